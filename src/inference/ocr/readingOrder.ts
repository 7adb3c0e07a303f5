// Reading order for detected boxes: lines top to bottom, boxes left to right within a line.
import type { TextBox } from './textBox.js';

interface Extent {
  readonly box: TextBox;
  readonly top: number;
  readonly bottom: number;
  readonly left: number;
}

/**
 * Groups boxes into lines. A box joins the line above it when their vertical ranges overlap by at least
 * half the shorter one: grown detection boxes of adjacent lines overlap a little, boxes on one line
 * mostly.
 */
export function readingOrder(boxes: readonly TextBox[]): TextBox[][] {
  const extents: Extent[] = boxes.map((box) => {
    const ys = box.points.map(([, y]) => y);
    return { box, top: Math.min(...ys), bottom: Math.max(...ys), left: Math.min(...box.points.map(([x]) => x)) };
  });
  extents.sort((a, b) => a.top + a.bottom - (b.top + b.bottom) || a.left - b.left);
  const lines: { top: number; bottom: number; members: Extent[] }[] = [];
  for (const e of extents) {
    const line = lines[lines.length - 1];
    const overlap = line === undefined ? 0 : Math.min(line.bottom, e.bottom) - Math.max(line.top, e.top);
    if (line !== undefined && overlap >= 0.5 * Math.min(line.bottom - line.top, e.bottom - e.top)) {
      line.members.push(e);
      line.top = Math.min(line.top, e.top);
      line.bottom = Math.max(line.bottom, e.bottom);
    } else {
      lines.push({ top: e.top, bottom: e.bottom, members: [e] });
    }
  }
  return lines.map((l) => l.members.sort((a, b) => a.left - b.left).map((e) => e.box));
}

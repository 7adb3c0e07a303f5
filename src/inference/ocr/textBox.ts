// A text box found by detection and read by recognition.
export interface TextBox {
  /** 4 corners, clockwise from top-left, in source-image pixels. */
  readonly points: readonly [number, number][];
  readonly score: number;
}

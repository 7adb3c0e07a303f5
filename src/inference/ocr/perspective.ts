// The projective map from the unit square to a quadrilateral (Heckbert, "Fundamentals of Texture
// Mapping and Image Warping", 1989, §2.2.3): (0,0), (1,0), (1,1), (0,1) go to the four corners in order.

export type Quad = readonly [readonly [number, number], readonly [number, number], readonly [number, number], readonly [number, number]];

/** Returns (s, t) -> [x, y]. A degenerate quadrilateral falls back to the affine map through corners 0, 1 and 3. */
export function squareToQuad(q: Quad): (s: number, t: number) => [number, number] {
  const [[x0, y0], [x1, y1], [x2, y2], [x3, y3]] = q;
  const sx = x0 - x1 + x2 - x3;
  const sy = y0 - y1 + y2 - y3;
  const dx1 = x1 - x2;
  const dx2 = x3 - x2;
  const dy1 = y1 - y2;
  const dy2 = y3 - y2;
  const den = dx1 * dy2 - dx2 * dy1;
  const projective = Math.abs(den) > 1e-12 && (Math.abs(sx) > 1e-12 || Math.abs(sy) > 1e-12);
  const g = projective ? (sx * dy2 - dx2 * sy) / den : 0;
  const h = projective ? (dx1 * sy - sx * dy1) / den : 0;
  const a = x1 - x0 + g * x1;
  const b = x3 - x0 + h * x3;
  const d = y1 - y0 + g * y1;
  const e = y3 - y0 + h * y3;
  return (s, t) => {
    const w = g * s + h * t + 1;
    return [(a * s + b * t + x0) / w, (d * s + e * t + y0) / w];
  };
}

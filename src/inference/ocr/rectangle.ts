// The minimum-area rectangle enclosing a set of points, as OpenCV's minAreaRect finds it: the convex
// hull (Andrew's monotone chain), then one side flush with each hull edge in turn (Freeman and Shapira
// 1975: the optimum has a side collinear with a hull edge), keeping the smallest.

/** The points p = a·u + b·v with u = (ux, uy), v = (-uy, ux), a in [u0, u1], b in [v0, v1]. */
export interface Rectangle {
  readonly ux: number;
  readonly uy: number;
  readonly u0: number;
  readonly u1: number;
  readonly v0: number;
  readonly v1: number;
}

const cross = (ox: number, oy: number, ax: number, ay: number, bx: number, by: number): number => (ax - ox) * (by - oy) - (ay - oy) * (bx - ox);

/** Hull vertices (counter-clockwise in a y-up frame) of points given as [x0, y0, x1, y1, ...]. */
function convexHull(points: ArrayLike<number>): number[] {
  const n = points.length >> 1;
  const x = (i: number): number => points[2 * i] as number;
  const y = (i: number): number => points[2 * i + 1] as number;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x(a) - x(b) || y(a) - y(b));
  const hull: number[] = [];
  const add = (i: number, floor: number): void => {
    while (hull.length >= floor) {
      const a = hull[hull.length - 2] as number;
      const b = hull[hull.length - 1] as number;
      if (cross(x(a), y(a), x(b), y(b), x(i), y(i)) > 0) break;
      hull.pop();
    }
    hull.push(i);
  };
  for (const i of order) add(i, 2);
  const lower = hull.length + 1;
  for (let k = order.length - 2; k >= 0; k -= 1) add(order[k] as number, lower);
  if (hull.length > 1) hull.pop();
  return hull.flatMap((i) => [x(i), y(i)]);
}

/** The smallest-area rectangle containing every point ([x0, y0, x1, y1, ...], at least one point). */
export function minAreaRectangle(points: ArrayLike<number>): Rectangle {
  const hull = convexHull(points);
  const m = hull.length >> 1;
  const [x0 = 0, y0 = 0] = hull;
  let best: Rectangle = { ux: 1, uy: 0, u0: x0, u1: x0, v0: y0, v1: y0 };
  let bestArea = Infinity;
  for (let i = 0; i < m; i += 1) {
    const j = (i + 1) % m;
    const ex = (hull[2 * j] as number) - (hull[2 * i] as number);
    const ey = (hull[2 * j + 1] as number) - (hull[2 * i + 1] as number);
    const length = Math.hypot(ex, ey);
    if (length < 1e-9) continue;
    const ux = ex / length;
    const uy = ey / length;
    let u0 = Infinity;
    let u1 = -Infinity;
    let v0 = Infinity;
    let v1 = -Infinity;
    for (let k = 0; k < m; k += 1) {
      const px = hull[2 * k] as number;
      const py = hull[2 * k + 1] as number;
      const a = px * ux + py * uy;
      const b = -px * uy + py * ux;
      u0 = Math.min(u0, a);
      u1 = Math.max(u1, a);
      v0 = Math.min(v0, b);
      v1 = Math.max(v1, b);
    }
    const area = (u1 - u0) * (v1 - v0);
    if (area < bestArea - 1e-9) {
      bestArea = area;
      best = { ux, uy, u0, u1, v0, v1 };
    }
  }
  return best;
}

/** The rectangle grown by `distance` on every side. */
export function expandRectangle(r: Rectangle, distance: number): Rectangle {
  return { ...r, u0: r.u0 - distance, u1: r.u1 + distance, v0: r.v0 - distance, v1: r.v1 + distance };
}

export function rectangleCorners(r: Rectangle): [number, number][] {
  const at = (a: number, b: number): [number, number] => [a * r.ux - b * r.uy, a * r.uy + b * r.ux];
  return [at(r.u0, r.v0), at(r.u1, r.v0), at(r.u1, r.v1), at(r.u0, r.v1)];
}

/** Whether (x, y) lies in the rectangle, within `tolerance`. */
export function rectangleContains(r: Rectangle, x: number, y: number, tolerance = 1e-6): boolean {
  const a = x * r.ux + y * r.uy;
  const b = -x * r.uy + y * r.ux;
  return a >= r.u0 - tolerance && a <= r.u1 + tolerance && b >= r.v0 - tolerance && b <= r.v1 + tolerance;
}

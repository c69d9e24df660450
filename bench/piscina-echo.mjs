// The Piscina side of bench/control.ts: an empty task.
export default function echo(x) {
  return x;
}

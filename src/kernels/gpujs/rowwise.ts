import { Tensor, type F32 } from '../../tensor/tensor.js';
import { bucket, unpack, unpackLanes, type GpuJsContext } from './context.js';
import type { GpuInput } from './gpujs.js';

/** A trailing kernel argument: a scalar, a flat array, or a shaped gpu.js input. */
export type ExtraArg = number | Float32Array | GpuInput;

/**
 * Runs an elementwise kernel over tensors viewed as [rows, cols]: rows bucketed and zero-padded,
 * output [cols, paddedRows], result trimmed back to `shape`. `extra` values become trailing,
 * unpadded arguments: per-row statistics, a bias row, or scalars that change every call (a learning
 * rate must not be a constant: gpu.js freezes those).
 */
export async function elementwise(
  ctx: GpuJsContext,
  name: string,
  source: string,
  inputs: F32[],
  shape: readonly number[],
  extra: ExtraArg[] = [],
  constants: Record<string, number> = {},
): Promise<F32> {
  const first = inputs[0]!;
  const rows = first.rows, cols = first.cols;
  if (first.size === 0) return Tensor.zeros(shape);
  const rb = bucket(rows);
  const k = ctx.kernel(`${name}:${rb}:${cols}:${JSON.stringify(constants)}`, source, { output: [cols, rb], constants: { C: cols, ...constants } });
  const args = inputs.map((t, i) => ctx.rows(t.data, rows, cols, rb, `${name}.${i}`));
  const r = await k(...args, ...extra);
  return unpack(r, rows, cols)[0]!.reshape(shape);
}

/**
 * Runs a kernel with one thread per row of [rows, cols] inputs, returning `width` values per row
 * (Array(width) in gpu.js), e.g. a row's max and sum. Padded rows are computed and dropped.
 */
export async function perRow(
  ctx: GpuJsContext,
  name: string,
  source: string,
  inputs: { data: Float32Array | Int32Array; cols: number }[],
  rows: number,
  width: number,
  constants: Record<string, number> = {},
  extra: Float32Array[] = [],
): Promise<Float32Array[]> {
  if (rows === 0) return Array.from({ length: width }, () => new Float32Array(0));
  const rb = bucket(rows);
  const k = ctx.kernel(`${name}:${rb}:${inputs.map((i) => i.cols).join(',')}:${JSON.stringify(constants)}`, source, {
    output: [rb],
    constants,
    ...(width > 1 ? { returnType: `Array(${width})` } : {}),
  });
  const args = inputs.map((t, i) => ctx.rows(t.data, rows, t.cols, rb, `${name}.${i}`));
  const r = await k(...args, ...extra);
  if (width === 1) return [Float32Array.from((r as Float32Array).subarray(0, rows))];
  return unpackLanes(r, rows, width);
}

/** `values` zero-padded to the bucket of its length, so per-row arguments match padded threads. */
export function padded(values: Float32Array, rows: number): Float32Array {
  const rb = bucket(rows);
  if (values.length === rb) return values;
  const out = new Float32Array(rb);
  out.set(values.subarray(0, Math.min(rows, values.length)));
  return out;
}

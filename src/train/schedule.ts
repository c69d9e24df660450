/** Linear warm-up, then cosine decay to `floor`·peak at the last step. */
export function learningRate(step: number, total: number, peak: number, warmup: number, floor = 0.1): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const t = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return peak * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * t)));
}

/** The AdamW settings of every part of a trained model (dense, gates, experts). */
export function adamWSettings(lr: number) {
  return { lr, clipNorm: 1, weightDecay: 0.01 };
}

/** Runs `task` `count` times, at most `width` at once (benchmarks and the fleet's enrollment). */
export async function pool(width: number, count: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

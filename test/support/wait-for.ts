/** What passes `if (v)`. */
type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

export interface WaitOptions {
  timeoutMs?: number;
  /** Between checks (the engine tests' checks ask Asterisk, so they poll more slowly). */
  pollMs?: number;
  /** More to say when the wait times out: what was seen instead. */
  context?: () => string;
}

/** Polls until `check` returns a truthy value (a failure guard for asynchronous effects, not a timing assertion). */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, options: number | WaitOptions = {}): Promise<Truthy<T>> {
  const { timeoutMs = 20_000, pollMs = 10, context } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as Truthy<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${context ? ` ${context()}` : ''}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

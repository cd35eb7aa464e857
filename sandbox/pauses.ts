/** A wait the sandbox can cut short when it closes. */
export interface Pause {
  /** True once the time has run out; false when the sandbox closed first. */
  readonly done: Promise<boolean>;
  /** Starts the full wait again from now; nothing once it is over. */
  restart(): void;
}

/**
 * Every timer a faulted call waits on, and every call held until a test releases it, so `close()` can
 * end them all: work still waiting (a slow, late or held call not yet applied) is then dropped, never
 * applied to a sandbox being torn down.
 */
export class Pauses {
  private readonly waiting = new Set<() => void>();
  private readonly held = new Set<(released: boolean) => void>();
  private closed = false;

  start(ms: number): Pause {
    let timer: NodeJS.Timeout | undefined;
    let settle: (elapsed: boolean) => void = () => {};
    const done = new Promise<boolean>((resolve) => {
      settle = (elapsed) => {
        clearTimeout(timer);
        this.waiting.delete(cancel);
        resolve(elapsed);
      };
    });
    const cancel = () => settle(false);
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => settle(true), ms);
    };
    if (this.closed) {
      settle(false);
      return { done, restart: () => {} };
    }
    this.waiting.add(cancel);
    arm();
    return {
      done,
      restart: () => {
        if (this.waiting.has(cancel)) arm();
      },
    };
  }

  /** Resolves true after `ms`, or false at once when the sandbox closes first. */
  wait(ms: number): Promise<boolean> {
    return this.start(ms).done;
  }

  /** Resolves true once `release()` is called, or false when the sandbox closes first. */
  hold(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const settle = (released: boolean) => {
        this.held.delete(settle);
        resolve(released);
      };
      this.held.add(settle);
    });
  }

  /** Lets every held call go on; answers how many there were. */
  release(): number {
    const held = [...this.held];
    for (const settle of held) settle(true);
    return held.length;
  }

  /** Ends every wait (each resolves false) and every later one at once. */
  close(): void {
    this.closed = true;
    for (const cancel of [...this.waiting]) cancel();
    for (const settle of [...this.held]) settle(false);
  }
}

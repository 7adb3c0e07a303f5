// The processes of `cloister local` and `cloister fleet local`, owned in one place: started in order, each awaited
// until it listens or the stack is asked to stop; stopped in the reverse order; and when one exits while the
// stack serves, the others are stopped (the supervisor then says which one, and how).
import { ChildCommand, ChildExitedError, describeExit, type ChildCommandOptions, type ChildExit } from './childCommand.js';
import { errorLine, EXIT, type CliIo } from './io.js';

/** A child process the stack stops: a cloister command (ChildCommand), or another program (HaproxyChild). */
export interface StackChild {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<ChildExit>;
  readonly showOutput: () => void;
  stop(): Promise<ChildExit>;
}

/** "the relay", but "node-0": a numbered child's name is a proper name. */
const called = (name: string): string => (/\d/.test(name) ? name : `the ${name}`);

export class ChildStack {
  readonly #children: StackChild[] = [];
  readonly #io: CliIo;
  readonly #nameWidth: number;
  readonly #tap: ((name: string, line: string) => void) | undefined;
  /** Resolves (with undefined) once the stack is asked to stop. */
  readonly stopRequested: Promise<undefined>;
  #requestStop: () => void = () => undefined;

  /** `tap` also receives each line passed on, with the name of the child that wrote it. */
  constructor(io: CliIo, nameWidth: number, tap?: (name: string, line: string) => void) {
    this.#io = io;
    this.#nameWidth = nameWidth;
    this.#tap = tap;
    this.stopRequested = new Promise<undefined>((resolve) => {
      this.#requestStop = () => {
        resolve(undefined);
      };
    });
  }

  /** Lines for a child's output: standard output as it is, standard error with the name in front. */
  outputOf(name: string): Pick<ChildCommandOptions, 'stdout' | 'stderr' | 'nameWidth'> {
    return {
      stdout: (line: string) => {
        this.#tap?.(name, line);
        this.#io.stdout(`${line}\n`);
      },
      stderr: (line: string) => {
        this.#tap?.(name, line);
        this.#io.stderr(`${line}\n`);
      },
      nameWidth: this.#nameWidth,
    };
  }

  /** Starts a cloister command; its URL once it listens, or undefined when the stack was asked to stop first. */
  async start(options: Omit<ChildCommandOptions, 'stdout' | 'stderr' | 'nameWidth'>): Promise<{ url: string; pid: number } | undefined> {
    const child = ChildCommand.start({ ...options, ...this.outputOf(options.name) });
    this.#children.push(child);
    const url = await Promise.race([child.ready, this.stopRequested]);
    return url === undefined ? undefined : { url, pid: child.pid };
  }

  /** Takes on a child started otherwise; its `ready` once it listens, or undefined when the stack was asked to stop first. */
  async adopt<T>(child: StackChild, ready: Promise<T>): Promise<T | undefined> {
    this.#children.push(child);
    return Promise.race([ready, this.stopRequested]);
  }

  /** Passes on the children's held standard error: the stack listens. */
  showOutput(): void {
    for (const child of this.#children) child.showOutput();
  }

  /** In the reverse order of their start: the front stops taking requests before what is behind it stops answering. */
  async stopAll(): Promise<void> {
    for (const child of [...this.#children].reverse()) await child.stop();
  }

  /**
   * The command's run: `start` starts the children (true once all listen, false when asked to stop first), then the
   * stack serves until asked to stop (exit 0) or until a child exits (the others stopped, exit 1); a child that
   * exits before it listens is exit 2. The children are stopped in every case, then `cleanup` runs. `stopSignal`
   * receives the function that asks the stack to stop and resolves once it has.
   */
  supervise(start: () => Promise<boolean>, stopSignal: (stop: () => Promise<void>) => void, cleanup?: () => Promise<void>): Promise<number> {
    const run = (async (): Promise<number> => {
      try {
        if (!(await start())) return EXIT.ok;
        const died = await this.#serve();
        if (died === undefined) return EXIT.ok;
        this.#io.stderr(errorLine(died));
        return EXIT.rejected;
      } catch (e) {
        if (!(e instanceof ChildExitedError)) throw e;
        await this.stopAll();
        this.#io.stderr(errorLine(e));
        return EXIT.usage;
      } finally {
        await this.stopAll();
        await cleanup?.();
      }
    })();
    stopSignal(async () => {
      this.#requestStop();
      await run;
    });
    return run;
  }

  /** Resolves when the stack is asked to stop (undefined), or with the error for the first child to exit, the others stopped. */
  async #serve(): Promise<ChildExitedError | undefined> {
    const first = await Promise.race([this.stopRequested, ...this.#children.map(async (child) => ({ child, exit: await child.exited }))]);
    if (first === undefined) return undefined;
    await this.stopAll();
    const others = this.#children.filter((c) => c !== first.child).map((c) => called(c.name));
    const list = others.length <= 2 ? others.join(' and ') : `${others.slice(0, -1).join(', ')} and ${others.at(-1) ?? ''}`;
    return new ChildExitedError(`${called(first.child.name)} (pid ${first.child.pid}) exited with ${describeExit(first.exit)} while serving; stopped ${list}`);
  }
}

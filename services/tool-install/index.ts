import { toolInstallKind, type Decision, type ToolInstallContext } from '../../actors/tool-install/index.js';
import { defineServices, type KindServices } from '../host/effects.js';

export type RegisterDecision = Extract<Decision, { outcome: 'register' }>;

/** The file work of one registration, handed to the effect that carries it out. */
export interface FileJob<T> {
  /** Settles when the file work the decision asked for is done (or has failed). */
  readonly done: Promise<T>;
  /** The decision it was started with; null while the machine has not taken the registration. */
  decision(): RegisterDecision | null;
  /** The registration was not taken (refused, already installed): nothing is run. */
  cancel(): void;
}

export interface ToolInstallServices extends KindServices {
  /**
   * The file work for the next `installFiles` of `streamId`: `f install` prepares it (what to
   * write, from the manifest, the download, the build), then proposes the registration; the
   * machine decides, and the effect starts the work with the decision.
   */
  expect<T>(streamId: string, work: (decision: RegisterDecision) => Promise<T>): FileJob<T>;
}

/**
 * The effects of tool-install: the files under $FLOW_HOME/cli (links/, installs/, index.json) and
 * the shims in $FLOW_HOME/bin, written as the machine's decision says. They are what `f cli`
 * reads; the work itself (install.ts) reports REGISTERED or INSTALL_FAILED when it is done.
 */
export function toolInstallServices(): ToolInstallServices {
  const jobs = new Map<string, (decision: RegisterDecision) => void>();
  const services = defineServices(toolInstallKind, {
    effects: {
      installFiles: (ctx) => {
        const start = jobs.get(ctx.streamId);
        jobs.delete(ctx.streamId);
        const decision = (ctx.snapshot.context as ToolInstallContext).decision;
        if (!start || decision?.outcome !== 'register') {
          ctx.observe('INSTALL_FAILED', { step: 'register', reason: 'the files of this registration are not in this process (its f install is gone)' });
          return;
        }
        start(decision);
      },
    },
  });
  return {
    ...services,
    expect<T>(streamId: string, work: (decision: RegisterDecision) => Promise<T>): FileJob<T> {
      let taken: RegisterDecision | null = null;
      let settle!: { resolve: (v: T) => void; reject: (err: unknown) => void };
      const done = new Promise<T>((resolve, reject) => (settle = { resolve, reject }));
      jobs.set(streamId, (decision) => {
        taken = decision;
        new Promise<T>((resolve) => resolve(work(decision))).then(settle.resolve, settle.reject);
      });
      return { done, decision: () => taken, cancel: () => jobs.delete(streamId) };
    },
  };
}

import type { OutputLine } from '../store/read-model.js';
import { liveSubjects } from './names.js';
import type { LiveBus } from './types.js';

/**
 * The last lines of each backend's output, as seen on the live bus: a gateway that does not run
 * the processes itself (distributed mode) answers `GET /api/backends/:id/logs` from this. Lines
 * printed before the gateway started are not here; the host that ran them keeps its own copy.
 */
export class LiveOutputTail {
  private readonly lines = new Map<string, OutputLine[]>();
  private readonly unsubscribe: () => void;

  constructor(
    live: LiveBus,
    private readonly keep = 1000,
  ) {
    this.unsubscribe = live.subscribe(liveSubjects.outputs('backend-child'), (m) => {
      const name = liveSubjects.parse(m.subject)?.tokens[0];
      if (!name) return;
      const line = m.data as OutputLine;
      if (typeof line?.line !== 'string' || typeof line.seq !== 'number') return;
      const key = `backend-child:${name}`;
      let list = this.lines.get(key);
      if (!list) this.lines.set(key, (list = []));
      list.push(line);
      if (list.length > this.keep * 1.25) list.splice(0, list.length - this.keep);
    });
  }

  tail(streamId: string, limit: number): OutputLine[] {
    // slice(-0) would be every line.
    return limit > 0 ? (this.lines.get(streamId) ?? []).slice(-limit) : [];
  }

  close(): void {
    this.unsubscribe();
  }
}

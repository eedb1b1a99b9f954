/**
 * One user's realtime connection: a socket that is opened again whenever it ends, and a
 * catch-up through GET /events after every new connection and on any gap in `seq`, so the
 * app gets every event once and in order.
 */
import { ApiError, eventsAfter, isMailEvent, negotiate, type Api, type Fetch } from "./api.js";
import { Backoff, type BackoffOptions } from "./backoff.js";
import { Sequencer } from "./sequencer.js";
import { webPubSubTransport, type Transport, type TransportFactory } from "./transport.js";
import type { MailEvent } from "./types.js";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "stopped";

export interface ConnectOptions {
  /** The API's base URL, e.g. "https://mail.example.com" (GET /ws/ and GET /events live there). */
  apiUrl: string;
  /** The app's access token; asked for before every call, so a refreshed token is used at once. */
  getToken(): string | Promise<string>;
  /** Each event, once, in `seq` order. */
  onEvent(event: MailEvent): void;
  /**
   * The events after the app's point are no longer kept (or the server is behind it): reload
   * the mailbox. Events after `latestSeq` follow through onEvent.
   */
  onReload?(latestSeq: number): void;
  onStateChange?(state: ConnectionState): void;
  /** Failures the connection recovers from by itself (it keeps retrying); for logs. */
  onError?(error: Error): void;
  /** The last seq the app has; by default the connection starts at the connect-time snapshot. */
  after?: number;
  /** Delays between reconnections and between failed catch-up calls. */
  backoff?: BackoffOptions;
  /** Events per GET /events page (1..1000, default 500). */
  pageSize?: number;
  /** After this long without a frame, catch up in case the socket died silently (default 120 s; 0: never). */
  idleCatchUpMs?: number;
  /**
   * This long after each new connection, catch up once more (default 5 s; 0: never): a service
   * that just came back may still be skipping the pushes of events committed meanwhile.
   */
  settleCatchUpMs?: number;
  fetch?: Fetch;
  transport?: TransportFactory;
}

export interface RealtimeConnection {
  /** The last seq delivered to onEvent. */
  readonly seq: number | undefined;
  readonly state: ConnectionState;
  /** Closes the socket, cancels calls and timers; calling it again does nothing. */
  stop(): void;
}

const DEFAULT_PAGE_SIZE = 500;
const DEFAULT_IDLE_CATCH_UP_MS = 120_000;
const DEFAULT_SETTLE_CATCH_UP_MS = 5_000;

/** When a refused call said to come back (Retry-After), else 0. */
const retryAfterOf = (error: unknown): number => (error instanceof ApiError ? (error.retryAfterMs ?? 0) : 0);

export function connect(options: ConnectOptions): RealtimeConnection {
  const connection = new Connection(options);
  connection.open();
  return connection;
}

class Connection implements RealtimeConnection {
  private current: ConnectionState = "connecting";
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly wakers = new Set<() => void>();
  private transport: Transport | undefined;
  private readonly reconnects: Backoff;
  private readonly retries: Backoff;
  private readonly sequencer: Sequencer;
  private readonly api: Api;
  private catchingUp = false;
  private catchUpAgain = false;
  private delivered = 0;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: ConnectOptions) {
    this.api = {
      apiUrl: options.apiUrl,
      getToken: options.getToken,
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    };
    this.reconnects = new Backoff(options.backoff);
    this.retries = new Backoff(options.backoff);
    this.sequencer = new Sequencer(options.after, (event) => this.deliver(event));
  }

  get seq(): number | undefined {
    return this.sequencer.seq;
  }

  get state(): ConnectionState {
    return this.current;
  }

  open(): void {
    if (this.stopped) return;
    const factory = this.options.transport ?? webPubSubTransport;
    const transport: Transport = factory(() => negotiate(this.api, this.abort.signal), {
      connected: () => {
        if (transport !== this.transport) return;
        this.reconnects.reset();
        this.setState("connected");
        this.armIdle();
        void this.catchUp();
        const settleMs = this.options.settleCatchUpMs ?? DEFAULT_SETTLE_CATCH_UP_MS;
        if (settleMs > 0) this.later(settleMs, () => transport === this.transport && void this.catchUp());
      },
      frame: (data) => {
        if (transport !== this.transport) return;
        this.armIdle();
        if (!isMailEvent(data)) return this.report(new Error(`Ignored a frame that is not an event: ${JSON.stringify(data)}`));
        if (this.sequencer.live(data)) void this.catchUp();
      },
      stopped: () => {
        if (transport !== this.transport) return;
        this.reopen();
      },
    });
    this.transport = transport;
    transport.start().catch((error: unknown) => {
      if (transport !== this.transport) return;
      this.report(error);
      this.reopen(retryAfterOf(error));
    });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    clearTimeout(this.idleTimer);
    for (const wake of this.wakers) wake();
    this.transport?.stop();
    this.transport = undefined;
    this.setState("stopped");
  }

  /** Drops the current socket and opens another after a backoff delay (at least `floorMs`). */
  private reopen(floorMs = 0): void {
    const previous = this.transport;
    this.transport = undefined;
    previous?.stop();
    if (this.stopped) return;
    this.setState("reconnecting");
    this.later(this.reconnects.next(floorMs), () => this.open());
  }

  /** One catch-up at a time; a request during one makes it go round again. */
  private async catchUp(): Promise<void> {
    if (this.catchingUp) {
      this.catchUpAgain = true;
      return;
    }
    this.catchingUp = true;
    try {
      do {
        this.catchUpAgain = false;
        const before = this.delivered;
        await this.fetchMissing();
        const gap = this.sequencer.release();
        if (gap && !this.stopped) {
          this.catchUpAgain = true;
          // A gap the log cannot fill yet (a push that overtook its commit's visibility): do not spin.
          if (this.delivered === before) await this.sleep(this.retries.next());
        }
      } while (this.catchUpAgain && !this.stopped);
    } finally {
      this.catchingUp = false;
    }
  }

  /** Pages through GET /events until the log's latest seq, retrying failures with backoff. */
  private async fetchMissing(): Promise<void> {
    const pageSize = this.options.pageSize ?? DEFAULT_PAGE_SIZE;
    let reloadedAt: number | undefined;
    while (!this.stopped) {
      const after = this.sequencer.seq;
      if (after === undefined) return;
      let answer;
      try {
        answer = await eventsAfter(this.api, after, pageSize, this.abort.signal);
        this.retries.reset();
      } catch (error) {
        if (this.stopped) return;
        this.report(error);
        await this.sleep(this.retries.next(retryAfterOf(error)));
        continue;
      }
      if (this.stopped) return;
      if (answer.kind === "gone") {
        // Reloading twice at one point would loop; the server keeps what follows a point it just named.
        if (reloadedAt === answer.latestSeq) return;
        reloadedAt = answer.latestSeq;
        this.reload(answer.latestSeq);
        continue;
      }
      const { events, latest_seq: latest } = answer.page;
      // The log is behind the app (a restored database): the app's state is from a future that is gone.
      if (latest < after) return this.reload(latest);
      try {
        this.sequencer.caughtUp(events);
      } catch (error) {
        this.report(error);
        await this.sleep(this.retries.next());
        continue;
      }
      const last = events.at(-1);
      if (!last || last.seq >= latest) return;
    }
  }

  private reload(latestSeq: number): void {
    this.sequencer.reload(latestSeq);
    try {
      this.options.onReload?.(latestSeq);
    } catch (error) {
      this.report(error);
    }
  }

  private deliver(event: MailEvent): void {
    if (this.stopped) return;
    this.delivered++;
    try {
      this.options.onEvent(event);
    } catch (error) {
      // The app's handler failing must not lose the next event or stall the order.
      this.report(error);
    }
  }

  /** Silence for a while: catch up; events the socket never brought mean it died without telling. */
  private armIdle(): void {
    const idleMs = this.options.idleCatchUpMs ?? DEFAULT_IDLE_CATCH_UP_MS;
    clearTimeout(this.idleTimer);
    if (idleMs <= 0 || this.stopped) return;
    this.idleTimer = setTimeout(() => {
      const before = this.delivered;
      void this.catchUp().then(() => {
        if (this.delivered > before) this.reopen();
        else this.armIdle();
      });
    }, idleMs);
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) run();
    }, ms);
    this.timers.add(timer);
  }

  /** Resolves after `ms`, or at once when the connection stops. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.wakers.delete(wake);
        resolve();
      };
      this.wakers.add(wake);
      this.later(ms, wake);
    });
  }

  private setState(state: ConnectionState): void {
    if (this.current === state) return;
    this.current = state;
    try {
      this.options.onStateChange?.(state);
    } catch (error) {
      this.report(error);
    }
  }

  private report(error: unknown): void {
    if (this.stopped && error instanceof Error && error.name === "AbortError") return;
    this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
  }
}

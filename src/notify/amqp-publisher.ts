/**
 * Publishes notifications to RabbitMQ as oslo.messaging's rabbit driver
 * does, so its listeners (Ceilometer, or any `oslo_messaging` notification
 * listener) receive them unchanged: to the topic exchange `glance` (the
 * control exchange), with routing key `<topic>.<priority>` for each of
 * `topics`, declaring the queue of that name (non-durable, as oslo's
 * defaults) so events wait there until a listener comes.
 *
 * A bounded buffer between the API and the broker: publishing never blocks a
 * request; while RabbitMQ is away the buffer fills (the oldest events are
 * dropped when it is full, counted and logged) and the connection is retried
 * with backoff; events are sent in order once it is back.
 */
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { Logger } from 'pino';
import type { NotificationsConfig } from '../config/options.js';

const EXCHANGE = 'glance';
const MAX_BACKLOG = 10_000;
const MAX_BACKOFF_MS = 30_000;

interface Pending {
  priority: string;
  body: unknown;
}

export class AmqpPublisher {
  private readonly queue: Pending[] = [];
  private dropped = 0;
  private sent = 0;
  private connection: ChannelModel | null = null;
  private channel: ConfirmChannel | null = null;
  private declared = new Set<string>();
  private draining = false;
  private backoffMs = 500;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly config: NotificationsConfig,
    private readonly log: Pick<Logger, 'info' | 'warn'>,
  ) {}

  publish(priority: string, body: unknown): void {
    if (this.closed) return;
    if (this.queue.length >= MAX_BACKLOG) {
      this.queue.shift();
      if (this.dropped++ % 1000 === 0) this.log.warn({ dropped: this.dropped }, 'notification backlog full: dropping the oldest events');
    }
    this.queue.push({ priority, body });
    void this.drain();
  }

  stats(): { backlog: number; dropped: number; sent: number } {
    return { backlog: this.queue.length, dropped: this.dropped, sent: this.sent };
  }

  async close(): Promise<void> {
    // What can still be sent in a moment is sent; the rest is lost with the process, as with oslo.
    const deadline = Date.now() + 2000;
    while (this.queue.length > 0 && this.channel && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    await this.connection?.close().catch(() => undefined);
  }

  private async drain(): Promise<void> {
    if (this.draining || this.retry || this.closed) return;
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const channel = await this.connect();
        const next = this.queue[0];
        for (const topic of this.config.topics) {
          const key = `${topic}.${next.priority}`;
          if (!this.declared.has(key)) {
            await channel.assertQueue(key, { durable: false, autoDelete: false });
            await channel.bindQueue(key, EXCHANGE, key);
            this.declared.add(key);
          }
          channel.publish(EXCHANGE, key, Buffer.from(JSON.stringify(next.body)), { contentType: 'application/json', contentEncoding: 'utf-8' });
        }
        await channel.waitForConfirms();
        this.queue.shift();
        this.sent++;
        this.backoffMs = 500;
      }
    } catch (err) {
      this.reset();
      if (!this.closed) {
        this.log.warn({ err: (err as Error).message, backlog: this.queue.length, retryInMs: this.backoffMs }, 'notifications: RabbitMQ unreachable, retrying');
        this.retry = setTimeout(() => {
          this.retry = null;
          void this.drain();
        }, this.backoffMs);
        this.retry.unref();
        this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
      }
    } finally {
      this.draining = false;
    }
  }

  private async connect(): Promise<ConfirmChannel> {
    if (this.channel) return this.channel;
    const connection = await amqp.connect(this.config.transportUrl, { timeout: 5000 });
    connection.on('error', () => undefined);
    connection.on('close', () => this.reset());
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    channel.on('close', () => this.reset());
    await channel.assertExchange(EXCHANGE, 'topic', { durable: false, autoDelete: false });
    this.connection = connection;
    this.channel = channel;
    this.log.info({ backlog: this.queue.length }, 'notifications: connected to RabbitMQ');
    return channel;
  }

  private reset(): void {
    const connection = this.connection;
    this.connection = null;
    this.channel = null;
    this.declared = new Set();
    void connection?.close().catch(() => undefined);
  }
}

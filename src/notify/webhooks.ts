/**
 * Webhooks, beyond Glance: every notification a subscription asks for
 * (`events`: types, `group.*`, or `*`) becomes a CloudEvents 1.0 JSON
 * document (structured mode), POSTed with `X-Glimpse-Signature: sha256=<HMAC
 * of the body with the subscription's secret>`. Deliveries go through an
 * outbox table first, so they survive a restart and are delivered at least
 * once: a failed one is retried with doubling delays (from `retry_seconds`,
 * up to an hour) until `max_attempts`. Every delivery passes web-download's
 * SSRF rules (`[import_filtering_opts]`): a receiver on an internal address
 * must be listed in `allowed_hosts`.
 */
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { WebhooksConfig, WebhookSubscription } from '../config/options.js';
import type { WebhookOutbox } from '../db/webhook-outbox.js';
import { safePost } from '../net/safe-get.js';
import type { ImportFilter } from '../net/url-filter.js';
import type { OsloMessage } from './notifier.js';

const POLL_MS = 1000;
const LEASE_MS = 60_000;
const MAX_DELAY_MS = 3_600_000;

export function subscribed(subscription: WebhookSubscription, eventType: string): boolean {
  return subscription.events.some((e) => e === '*' || e === eventType || (e.endsWith('.*') && eventType.startsWith(e.slice(0, -1))));
}

export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export class WebhookDispatcher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private pending = new Set<Promise<unknown>>();

  constructor(
    private readonly config: WebhooksConfig,
    private readonly outbox: WebhookOutbox,
    private readonly filter: ImportFilter,
    private readonly log: Pick<Logger, 'warn'>,
  ) {}

  /** Records the deliveries a notification calls for (not awaited by the request that caused it). */
  accept(message: OsloMessage): void {
    const rows = this.config.subscriptions
      .filter((s) => subscribed(s, message.event_type))
      .map((s) => ({ subscription: s.name, event_id: message.message_id, event_type: message.event_type, body: JSON.stringify(cloudEvent(message)) }));
    if (rows.length === 0) return;
    const stored = this.outbox.enqueue(rows).then(
      () => this.poll(),
      (err: unknown) => this.log.warn({ err, event: message.event_type }, 'webhooks: could not record deliveries; this event is not delivered'),
    );
    this.pending.add(stored);
    void stored.finally(() => this.pending.delete(stored));
  }

  start(): void {
    if (this.config.subscriptions.length === 0) return;
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
    this.poll();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.pending]);
    await this.running;
  }

  /** One delivery pass at a time. */
  private poll(): void {
    this.running ??= this.deliverDue()
      .catch((err: unknown) => this.log.warn({ err }, 'webhooks: a delivery pass failed; the next one retries'))
      .finally(() => (this.running = null));
  }

  private async deliverDue(): Promise<void> {
    for (;;) {
      const due = await this.outbox.claimDue(20, LEASE_MS);
      if (due.length === 0) return;
      for (const delivery of due) {
        const subscription = this.config.subscriptions.find((s) => s.name === delivery.subscription);
        if (!subscription) {
          await this.outbox.failed(delivery.id, null, `subscription ${delivery.subscription} is no longer configured`, null);
          continue;
        }
        await this.deliver(subscription, delivery);
      }
    }
  }

  private async deliver(subscription: WebhookSubscription, delivery: { id: number; body: string; attempts: number; event_type: string }): Promise<void> {
    const headers = {
      'content-type': 'application/cloudevents+json; charset=utf-8',
      'x-glimpse-signature': signature(subscription.secret, delivery.body),
      'x-glimpse-delivery': String(delivery.id),
    };
    let status: number | null = null;
    let error: string;
    try {
      status = await safePost(subscription.url, this.filter, Buffer.from(delivery.body), headers);
      if (status >= 200 && status < 300) {
        await this.outbox.delivered(delivery.id, status);
        return;
      }
      error = `the receiver answered ${status}`;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const attempts = delivery.attempts + 1;
    const next = attempts >= this.config.maxAttempts ? null : new Date(Date.now() + Math.min(this.config.retrySeconds * 1000 * 2 ** (attempts - 1), MAX_DELAY_MS));
    await this.outbox.failed(delivery.id, status, next ? error : `${error}; given up after ${attempts} attempts`, next);
    if (!next) this.log.warn({ subscription: subscription.name, event: delivery.event_type, delivery: delivery.id, error }, 'webhooks: a delivery was given up');
  }
}

/** The notification as a CloudEvents 1.0 structured JSON document. */
function cloudEvent(message: OsloMessage): Record<string, unknown> {
  return {
    specversion: '1.0',
    id: message.message_id,
    source: `/glimpse/${message.publisher_id}`,
    type: message.event_type,
    time: `${message.timestamp.replace(' ', 'T').slice(0, 23)}Z`,
    datacontenttype: 'application/json',
    priority: message.priority.toLowerCase(),
    data: message.payload,
  };
}

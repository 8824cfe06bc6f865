/**
 * Glance's notifications, as oslo.messaging sends them: an event type
 * (`image.upload`), a priority (INFO, ERROR), and a payload, wrapped in
 * oslo's message (`message_id`, `publisher_id`, `event_type`, `priority`,
 * `payload`, `timestamp`) and, for the `messagingv2` driver, in its
 * envelope (`{"oslo.version": "2.0", "oslo.message": "<JSON>"}`).
 *
 * Emitting never waits and never fails: events go into a bounded buffer that
 * the transport drains in the background; when it is full the oldest events
 * are dropped, counted and logged. `[DEFAULT] disabled_notifications` names
 * events (`image.send`) or groups (`image`) not to send.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { NotificationsConfig } from '../config/options.js';
import { AmqpPublisher } from './amqp-publisher.js';

export type Priority = 'INFO' | 'ERROR' | 'WARN';

export interface Notifier {
  emit(eventType: string, payload: unknown, priority?: Priority): void;
  /** Events waiting to be sent, and events dropped since start (for metrics and tests). */
  stats(): { backlog: number; dropped: number; sent: number };
  close(): Promise<void>;
}

/** Sends nothing: for tools that change the database outside the API (`manage metadefs load`), as glance-manage does. */
export const SILENT: Notifier = { emit: () => undefined, stats: () => ({ backlog: 0, dropped: 0, sent: 0 }), close: async () => undefined };

/** One message on the wire, before any envelope. */
export interface OsloMessage {
  message_id: string;
  publisher_id: string;
  event_type: string;
  priority: Priority;
  payload: unknown;
  timestamp: string;
}

/** oslo's timestamp: `str(datetime.utcnow())`, e.g. `2026-12-06 02:31:45.123456`. */
function osloTimestamp(now = new Date()): string {
  return `${now.toISOString().replace('T', ' ').replace('Z', '')}000`;
}

/**
 * The notifier of a server: the configured driver, and `sinks` that get
 * every enabled message as well (the webhooks' outbox).
 */
export function createNotifier(config: NotificationsConfig, log: Pick<Logger, 'info' | 'warn'>, sinks: ((message: OsloMessage) => void)[] = []): Notifier {
  const transport = driverNotifier(config, log);
  if (sinks.length === 0) return transport;
  return {
    emit: (eventType, payload, priority = 'INFO') => {
      transport.emit(eventType, payload, priority);
      if (!enabledIn(config, eventType)) return;
      const message = osloMessage(config, eventType, payload, priority);
      for (const sink of sinks) sink(message);
    },
    stats: () => transport.stats(),
    close: () => transport.close(),
  };
}

function enabledIn(config: NotificationsConfig, eventType: string): boolean {
  return !config.disabled.some((d) => d === eventType || d === eventType.split('.', 1)[0]);
}

function osloMessage(config: NotificationsConfig, eventType: string, payload: unknown, priority: Priority): OsloMessage {
  return { message_id: randomUUID(), publisher_id: config.publisherId, event_type: eventType, priority, payload, timestamp: osloTimestamp() };
}

function driverNotifier(config: NotificationsConfig, log: Pick<Logger, 'info' | 'warn'>): Notifier {
  const enabled = (eventType: string) => enabledIn(config, eventType);
  const message = (eventType: string, payload: unknown, priority: Priority) => osloMessage(config, eventType, payload, priority);
  switch (config.driver) {
    case 'noop':
      return SILENT;
    case 'log': {
      let sent = 0;
      return {
        emit: (eventType, payload, priority = 'INFO') => {
          if (!enabled(eventType)) return;
          sent++;
          log.info({ notification: message(eventType, payload, priority) }, `notification ${eventType}`);
        },
        stats: () => ({ backlog: 0, dropped: 0, sent }),
        close: async () => undefined,
      };
    }
    case 'messaging':
    case 'messagingv2': {
      const publisher = new AmqpPublisher(config, log);
      const envelope = config.driver === 'messagingv2';
      return {
        emit: (eventType, payload, priority = 'INFO') => {
          if (!enabled(eventType)) return;
          const body = message(eventType, payload, priority);
          publisher.publish(priority.toLowerCase(), envelope ? { 'oslo.version': '2.0', 'oslo.message': JSON.stringify(body) } : body);
        },
        stats: () => publisher.stats(),
        close: () => publisher.close(),
      };
    }
  }
}

/** The notifier's rules without a broker: disabled_notifications by event or group, and oslo's message fields (the log driver). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNotifier } from '../../src/notify/notifier.js';

describe('notifier', () => {
  it('skips disabled events and groups, and builds oslo\'s message', () => {
    const logged: { notification: Record<string, unknown> }[] = [];
    const log = { info: (o: unknown) => void logged.push(o as { notification: Record<string, unknown> }), warn: () => undefined };
    const notifier = createNotifier({ driver: 'log', transportUrl: '', topics: ['notifications'], disabled: ['image.send', 'metadef_namespace'], publisherId: 'image.node-1' }, log as never);
    for (const type of ['image.create', 'image.send', 'image.update', 'metadef_namespace.create', 'metadef_tag.create']) notifier.emit(type, { x: 1 });
    notifier.emit('image.upload', 'refused', 'ERROR');
    assert.deepEqual(logged.map((l) => l.notification.event_type), ['image.create', 'image.update', 'metadef_tag.create', 'image.upload']);
    const [first] = logged;
    assert.equal(first.notification.publisher_id, 'image.node-1');
    assert.equal(first.notification.priority, 'INFO');
    assert.match(String(first.notification.message_id), /^[0-9a-f-]{36}$/);
    assert.match(String(first.notification.timestamp), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
    assert.equal(logged[3].notification.priority, 'ERROR');
    assert.deepEqual(notifier.stats(), { backlog: 0, dropped: 0, sent: 4 });
  });
});

/** The image status machine: Glance's allowed transitions, the only ones the repository writes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GlimpseError } from '../../src/domain/errors.js';
import { transition } from '../../src/domain/image.js';

const refused = (err: unknown) => err instanceof GlimpseError && err.kind === 'conflict';

describe('image status transitions', () => {
  it('allows what Glance allows, from one status or from each of several', () => {
    assert.equal(transition('queued', 'saving'), 'saving');
    assert.equal(transition('saving', 'queued'), 'queued');
    assert.equal(transition(['uploading', 'queued'], 'importing'), 'importing');
    assert.equal(transition('active', 'deactivated'), 'deactivated');
    assert.equal(transition('importing', 'importing'), 'importing', 'staying put is no transition');
  });

  it('refuses the rest with a conflict naming the statuses', () => {
    assert.throws(() => transition('active', 'queued'), refused);
    assert.throws(() => transition('deleted', 'active'), refused);
    assert.throws(() => transition(['saving', 'active'], 'queued'), /from 'active' to 'queued'/);
  });
});

/** Timestamps between the databases' naive-UTC text and Glance's wire form. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isoSeconds } from '../../src/api/wire.js';
import { fromTime, utcText } from '../../src/db/connection.js';

describe('timestamps', () => {
  it('reads every form the dialects hand back as UTC', () => {
    const cases: [string, string][] = [
      ['2026-01-01 00:00:01', '2026-01-01T00:00:01.000Z'],
      ['2026-01-01 00:00:01.5', '2026-01-01T00:00:01.500Z'],
      ['2026-11-26 05:14:25.12', '2026-11-26T05:14:25.120Z'],
      ['1999-12-31 23:59:59.999999', '1999-12-31T23:59:59.999Z'],
      ['2026-01-01T00:00:01', '2026-01-01T00:00:01.000Z'],
      ['2026-01-01T00:00:01Z', '2026-01-01T00:00:01.000Z'],
      ['2026-01-01T02:00:01+02:00', '2026-01-01T00:00:01.000Z'],
    ];
    for (const [text, iso] of cases) assert.equal(fromTime(text).toISOString(), iso, text);
    const now = new Date('2026-03-04T05:06:07.891Z');
    assert.equal(fromTime(now), now);
    assert.equal(fromTime(utcText(now)).getTime(), now.getTime());
    assert.ok(Number.isNaN(fromTime('2026-01-01 00:00:0x').getTime()), 'garbage is an invalid date, not a wrong one');
  });

  it("prints Glance's whole-second form, for any year a Date holds", () => {
    assert.equal(isoSeconds(new Date('2026-03-04T05:06:07.891Z')), '2026-03-04T05:06:07Z');
    assert.equal(isoSeconds(new Date('0999-12-31T23:59:59Z')), '0999-12-31T23:59:59Z');
    for (let t = 0; t < 4e12; t += 9_876_543_211) assert.equal(isoSeconds(new Date(t)), `${new Date(t).toISOString().slice(0, 19)}Z`);
  });
});

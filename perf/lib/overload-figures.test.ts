/**
 * The overload benchmark's figures on synthetic k6 lines: parsing, goodput by the second answered
 * and by the second sent, recovery, Retry-After, counts by status.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Answer, closedLoopFigures, formatStatuses, goodputBySecond, parseK6Log, phaseFigures, recoverySeconds, retryAfterSeconds } from './overload-figures.js';

const answer = (over: Partial<Answer>): Answer => ({ phase: 'p', sentMs: 0, status: 200, latencyMs: 10, retryAfter: undefined, code: undefined, ...over });

describe('parseK6Log', () => {
  it('reads T0 and the R lines, and ignores anything else', () => {
    const log = parseK6Log(
      ['T0 1000', 'R 3x 1010 200 12.50 0.30 - -', 'time="..." level=warning msg="something"', 'R 3x 1020 503 1.00 0.00 2 GW_ERR_OVERLOADED', 'R 3x 1030 0 6500.00 0.00 - 1050', ''].join('\n'),
    );
    assert.equal(log.t0Ms, 1000);
    assert.deepEqual(log.answers, [
      { phase: '3x', sentMs: 1010, status: 200, latencyMs: 12.8, retryAfter: undefined, code: undefined },
      { phase: '3x', sentMs: 1020, status: 503, latencyMs: 1, retryAfter: '2', code: 'GW_ERR_OVERLOADED' },
      { phase: '3x', sentMs: 1030, status: 0, latencyMs: 6500, retryAfter: undefined, code: '1050' },
    ]);
  });
});

describe('phaseFigures', () => {
  const deadline = 5000;
  const answers = [
    answer({ sentMs: 0, latencyMs: 100 }),
    answer({ sentMs: 100, latencyMs: 5200 }), // a 200 after the deadline: not goodput
    answer({ sentMs: 200, status: 503, latencyMs: 2, retryAfter: '1', code: 'GW_ERR_OVERLOADED' }),
    answer({ sentMs: 300, status: 503, latencyMs: 4, retryAfter: '3', code: 'GW_ERR_OVERLOADED' }),
    answer({ sentMs: 400, status: 504, latencyMs: 5000, code: 'GW_ERR_DEADLINE' }),
    answer({ sentMs: 500, status: 0, latencyMs: 6500, code: '1050' }),
    answer({ sentMs: 1500, latencyMs: 900 }), // sent in the phase, answered after it
    answer({ phase: 'before', sentMs: -500, latencyMs: 700 }), // answered in the phase
    answer({ phase: 'before', sentMs: -500, latencyMs: 400 }), // answered before it
  ];
  const f = phaseFigures(answers, 'p', 10, 0, 2, deadline);

  it('counts goodput by the time answered, whichever phase sent it', () => {
    assert.equal(f.goodputPerSecond, 1); // the 200 at 100 ms and the earlier phase's at 200 ms
    assert.equal(f.goodOfSent, 2);
    assert.equal(f.sent, 7);
  });

  it('counts statuses, codes, late 200s, other 5xx and no answers', () => {
    assert.deepEqual(f.statuses, { 0: 1, 200: 3, 503: 2, 504: 1 });
    assert.deepEqual(f.codes, { GW_ERR_OVERLOADED: 2, GW_ERR_DEADLINE: 1, 1050: 1 });
    assert.equal(f.lateOk, 1);
    assert.equal(f.other5xx, 1);
    assert.equal(f.noAnswer, 1);
    assert.equal(formatStatuses(f.statuses), '3/2/1/1');
  });

  it('gives the refusals their own latency and reads Retry-After', () => {
    assert.equal(f.refused.count, 2);
    assert.equal(f.refused.p99, 4);
    assert.equal(f.ok.count, 3);
    assert.deepEqual({ ...f.retryAfter }, { count: 2, min: 1, median: 1, max: 3, unreadable: 0 });
  });
});

describe('retryAfterSeconds', () => {
  it('reads delay-seconds and HTTP-dates (spaces logged as _)', () => {
    assert.equal(retryAfterSeconds('7', 0), 7);
    assert.equal(retryAfterSeconds('Wed,_21_Oct_2015_07:28:05_GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 5);
    assert.equal(retryAfterSeconds('soon', 0), undefined);
  });
});

describe('goodputBySecond and recoverySeconds', () => {
  it('buckets by the second sent, so latency does not move a request into a later bucket', () => {
    const answers = [answer({ sentMs: 100, latencyMs: 1500 }), answer({ sentMs: 900, latencyMs: 10 }), answer({ sentMs: 1100 }), answer({ sentMs: 2999, status: 503 })];
    assert.deepEqual(goodputBySecond(answers, 'p', 0, 3, 5000), [2, 1, 0]);
  });

  it('recovers at the first second from which three in a row hold 90 % of the offered rate', () => {
    assert.equal(recoverySeconds([100, 100, 100, 50], 100), 0);
    assert.equal(recoverySeconds([10, 95, 80, 90, 100, 90, 20], 100), 3);
    assert.equal(recoverySeconds([0, 0, 95, 95], 100), 2); // as many as the phase has left
    assert.equal(recoverySeconds([100, 50, 100, 50, 100, 50], 100), undefined);
    assert.equal(recoverySeconds([], 100), undefined);
  });
});

describe('closedLoopFigures', () => {
  it('counts 200s answered in the window', () => {
    const answers = [answer({ sentMs: 0, latencyMs: 900 }), answer({ sentMs: 1000, latencyMs: 500 }), answer({ sentMs: 1500, latencyMs: 600 }), answer({ sentMs: 2000, latencyMs: 1, status: 503 })];
    const f = closedLoopFigures(answers, 1000, 3000);
    assert.equal(f.perSecond, 1);
    assert.deepEqual(f.statuses, { 200: 2, 503: 1 });
  });
});

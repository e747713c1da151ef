import { describe, expect, it } from 'vitest';
import { formatValue, judge, roomStatus } from '../../src/cea/health.js';

const band = { target: 25, low: 23, high: 27, alarmLow: 20, alarmHigh: 29 };

describe('a value against its band', () => {
  it('inside the band, edges included, is ok', () => {
    for (const v of [23, 25, 27]) expect(judge(v, false, band).status, String(v)).toBe('ok');
  });
  it('outside low/high is attention, beyond an alarm limit is alarm', () => {
    expect(judge(22.9, false, band, '°C')).toEqual({ status: 'attention', text: 'below 23.0 °C' });
    expect(judge(27.1, false, band, '°C')).toEqual({ status: 'attention', text: 'above 27.0 °C' });
    expect(judge(29, false, band).status).toBe('attention');
    expect(judge(29.01, false, band, '°C')).toEqual({ status: 'alarm', text: 'above alarm limit 29.0 °C' });
    expect(judge(19.99, false, band).status).toBe('alarm');
  });
  it('a stale reading is stale, whatever its value; no reading is unknown', () => {
    expect(judge(35, true, band).status).toBe('stale');
    expect(judge(null, false, band)).toEqual({ status: 'unknown', text: 'no reading' });
    expect(judge(Number.NaN, false, band).status).toBe('unknown');
  });
  it('a band with only some limits judges by those; no band is ok', () => {
    expect(judge(2100, false, { alarmHigh: 2000 }).status).toBe('alarm');
    expect(judge(100, false, { alarmHigh: 2000 }).status).toBe('ok');
    expect(judge(-50, false, undefined).status).toBe('ok');
  });
  it('formats percent without a space', () => {
    expect(formatValue(64.24, 1, '%')).toBe('64.2%');
    expect(formatValue(1.234, 2, 'kPa')).toBe('1.23 kPa');
  });
});

describe('room status', () => {
  it('is the worst of its key values', () => {
    expect(roomStatus(['ok', 'ok'])).toBe('ok');
    expect(roomStatus(['ok', 'attention'])).toBe('attention');
    expect(roomStatus(['ok', 'stale'])).toBe('attention');
    expect(roomStatus(['attention', 'alarm', 'stale'])).toBe('alarm');
    expect(roomStatus(['unknown', 'ok'])).toBe('ok');
  });
  it('is unknown when nothing was read', () => {
    expect(roomStatus([])).toBe('unknown');
    expect(roomStatus(['unknown', 'unknown'])).toBe('unknown');
  });
  it('active alerts raise it: a critical one to alarm, others to attention', () => {
    expect(roomStatus(['ok'], [{ severity: 'warning' }])).toBe('attention');
    expect(roomStatus(['ok'], [{ severity: 'critical' }])).toBe('alarm');
    expect(roomStatus(['unknown'], [{ severity: 'info' }])).toBe('attention');
  });
});

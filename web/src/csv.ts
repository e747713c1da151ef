import { formatValue } from './chart-data.js';

/** One column of the CSV: its header (label and unit) and its values by time. */
export interface CsvColumn {
  label: string;
  unit: string;
  values: Map<number, number | null | undefined>;
}

/** A CSV field, quoted when it holds a comma, a quote or a line break. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * What the chart shows as CSV: `time` (ISO 8601, UTC) then one column per
 * series headed `label (unit)`, values at the chart's precision, empty where
 * a series has no value (an outage or another sensor's time). Rows in time order.
 */
export function toCsv(columns: CsvColumn[]): string {
  const times = new Set<number>();
  for (const c of columns) for (const [t, v] of c.values) if (v !== undefined) times.add(t);
  const header = ['time', ...columns.map((c) => (c.unit ? `${c.label} (${c.unit})` : c.label))];
  const lines = [header.map(csvField).join(',')];
  for (const t of [...times].sort((a, b) => a - b)) {
    const row = [new Date(t).toISOString()];
    for (const c of columns) {
      const v = c.values.get(t);
      row.push(v === null || v === undefined ? '' : formatValue(v, c.unit, false));
    }
    // a time where every series is in an outage carries nothing
    if (row.slice(1).some((f) => f !== '')) lines.push(row.map(csvField).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** `canopy-history-2026-12-01T1540.csv` for a range ending at `to`. */
export function csvFileName(to: number): string {
  const iso = new Date(to).toISOString();
  return `canopy-history-${iso.slice(0, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}.csv`;
}

/** Offers the text as a file download (an object URL on a temporary link). */
export function downloadCsv(text: string, name: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

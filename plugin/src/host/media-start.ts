/**
 * Premiere's project columns come back as JSON text: an array of { ColumnID, ColumnValue, ... }.
 * Column.Intrinsic.MediaStart holds the media's first-frame timecode as a tick string.
 */
const MEDIA_START_COLUMN = 'Column.Intrinsic.MediaStart';

export function mediaStartFromColumns(columnsJson: string): bigint {
  let columns: unknown;
  try {
    columns = JSON.parse(columnsJson);
  } catch {
    return 0n;
  }
  if (!Array.isArray(columns)) return 0n;
  const column = columns.find((c): c is { ColumnValue: unknown } => !!c && typeof c === 'object' && c.ColumnID === MEDIA_START_COLUMN);
  const value = column ? String(column.ColumnValue).trim() : '';
  return /^-?\d+$/.test(value) ? BigInt(value) : 0n;
}

// How well a value matches what someone typed, the same in the hub's search and the UI's: an exact
// match scores `exact`, a prefix 20 less, a substring 40 less (shorter values a little higher), no
// match 0. `query` is lower case.
export function matchScore(value: string, query: string, exact: number): number {
  const v = value.toLowerCase();
  if (v === query) return exact;
  if (v.startsWith(query)) return exact - 20 + (10 * query.length) / v.length;
  if (v.includes(query)) return exact - 40 + (10 * query.length) / v.length;
  return 0;
}

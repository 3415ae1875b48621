/** at most `n` names, then "and N more" (500 hosts must not make one 7 000-character line) */
export function someOf(names: string[], n = 5): string {
  return names.length <= n ? names.join(', ') : `${names.slice(0, n).join(', ')} and ${names.length - n} more`;
}

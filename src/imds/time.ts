/** the last second turned into text, and its text (events of one second share the work) */
let lastSec = NaN;
let lastBase = '';

/** Packet time → ISO 8601 with microseconds, UTC. Time always comes from the packet (docs/design.md#time). */
export function isoTime(sec: number, nsec: number): string {
  if (sec !== lastSec) {
    lastBase = new Date(sec * 1000).toISOString().slice(0, 19);
    lastSec = sec;
  }
  const micros = Math.floor(nsec / 1000);
  return `${lastBase}.${String(micros).padStart(6, '0')}Z`;
}

/** Packet time → ISO 8601 with microseconds, UTC. Time always comes from the packet (STYLE.md item 2). */
export function isoTime(sec: number, nsec: number): string {
  const d = new Date(sec * 1000);
  const base = d.toISOString().slice(0, 19);
  const micros = Math.floor(nsec / 1000);
  return `${base}.${String(micros).padStart(6, '0')}Z`;
}

/** Compare two packet times: negative when a is earlier. */
export function compareTime(aSec: number, aNsec: number, bSec: number, bNsec: number): number {
  return aSec !== bSec ? aSec - bSec : aNsec - bNsec;
}

/** Packet time → ISO 8601 with microseconds, UTC. Time always comes from the packet (docs/design.md#time). */
export function isoTime(sec: number, nsec: number): string {
  const d = new Date(sec * 1000);
  const base = d.toISOString().slice(0, 19);
  const micros = Math.floor(nsec / 1000);
  return `${base}.${String(micros).padStart(6, '0')}Z`;
}

/** Poll `cond` every 50 ms until it holds, or reject after `ms` naming `what`. */
export function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (cond()) {
        clearInterval(t);
        resolve();
      } else if (Date.now() > end) {
        clearInterval(t);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 50);
  });
}

import { statSync } from 'node:fs';

/**
 * Host integrity around the whole suite. Tests here run as root with chroots, bind mounts,
 * runtimes and namespaces; a slip (a rename over /dev/null, a bind mount the wrong way)
 * once left /dev/null a regular file on a development machine, and every later non-root
 * program that opened it failed. The suite fails loudly instead of leaving that behind.
 */
function checkDevNull(when: string): void {
  const st = statSync('/dev/null');
  if (!st.isCharacterDevice()) {
    throw new Error(`${when}: /dev/null is not a character device (a test replaced it); repair: rm /dev/null && mknod -m 666 /dev/null c 1 3`);
  }
}

export function setup(): void {
  checkDevNull('before the tests');
}

export function teardown(): void {
  checkDevNull('after the tests');
}

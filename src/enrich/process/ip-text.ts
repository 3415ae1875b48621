/**
 * Address text now lives in src/domain/address.ts (one formatter and one flow key for the
 * whole program, issue #13). This re-export keeps imports of other branches in flight
 * working; new code imports src/domain/address.js.
 */
export { canonicalIp, ipv6BytesToText, isV4Mapped, parseIpText } from '../../domain/address.js';

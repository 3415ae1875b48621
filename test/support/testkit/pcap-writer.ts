/**
 * The test kit's packet writer: frame builders (IP/TCP, link layers), capture file
 * writers (classic pcap, pcapng) and scripted TCP conversations. One import for tests,
 * generators and the benchmark.
 *
 *   const pkts = tcpConversation({ client: { ip: '10.0.0.5', port: 40000 },
 *     requests: [httpGet('/latest/meta-data/', { userAgent: 'curl/7.88.1' })],
 *     responses: [httpResponse(200, 'ami-id\n')] });
 *   const file = classicPcap(toRecords(pkts, (ip) => ethernet(ip)), { linkType: LINKTYPE.ETHERNET });
 */
export * from './packet-builders.js';
export * from './ip-fragments.js';
export * from './capture-files.js';
export * from './tcp-conversation.js';
export * from './http-text.js';

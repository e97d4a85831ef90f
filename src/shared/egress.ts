/**
 * Outbound HTTP to URLs that tenants choose (event subscriptions): no server-side request forgery.
 *
 * A destination is refused when its address is loopback, private, link-local, CGNAT, multicast,
 * reserved, documentation, or a cloud metadata address, unless an entry of the allow-list
 * (`EVENT_SUBSCRIPTION_ALLOW_LIST`) covers it. The check runs twice: on the URL when it is saved
 * (`checkUrl`: scheme, IP literal, every address its name resolves to), and on the address each
 * connection actually reached (`dispatcher()`: an undici `connect` hook), so a name that resolves
 * to something else later (DNS rebinding) is still refused.
 *
 * Allow-list entries: a host name (`localhost`, `hooks.internal`), an IP address or a CIDR range
 * (`10.20.0.0/16`). A URL whose host is listed (by name, or an IP literal inside a listed range)
 * may use plain `http` and reach any address; otherwise the URL must be `https` and every address
 * public or inside a listed range.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type Socket } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { AppError } from './errors.js';

/** Ranges never reached unless listed (IANA special-purpose registries, RFC 6890 and successors). */
const BLOCKED_V4: Array<[string, number]> = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private (RFC 1918)
  ['100.64.0.0', 10], // CGNAT (RFC 6598); also Alibaba Cloud metadata 100.100.100.200
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local; AWS/GCP/Azure metadata 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation (TEST-NET-1)
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation (TEST-NET-2)
  ['203.0.113.0', 24], // documentation (TEST-NET-3)
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and broadcast 255.255.255.255
];
const BLOCKED_V4_HOSTS = ['168.63.129.16']; // Azure wire server (metadata and agent channel)
const BLOCKED_V6: Array<[string, number]> = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b::', 96], // NAT64: would reach an embedded IPv4 address
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['2001::', 32], // Teredo
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: embeds an IPv4 address
  ['fc00::', 7], // unique local; AWS metadata fd00:ec2::254
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

const blocked = new BlockList();
for (const [network, prefix] of BLOCKED_V4) blocked.addSubnet(network, prefix, 'ipv4');
for (const address of BLOCKED_V4_HOSTS) blocked.addAddress(address, 'ipv4');
for (const [network, prefix] of BLOCKED_V6) blocked.addSubnet(network, prefix, 'ipv6');

/** `::ffff:a.b.c.d` or `::ffff:7f00:1` → `a.b.c.d`; anything else unchanged. */
function unmapIpv4(address: string): string {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (dotted) return dotted[1]!;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return address;
  const high = parseInt(hex[1]!, 16);
  const low = parseInt(hex[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** The address family `BlockList` expects, or null for something that is not an IP address. */
function familyOf(address: string): 'ipv4' | 'ipv6' | null {
  const version = isIP(address);
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : null;
}

/**
 * True for an address in a blocked range. IPv4-mapped IPv6 (`::ffff:…`) is judged as its IPv4
 * address (node's BlockList itself matches IPv4 against `::ffff:0:0/96`, so that range is not listed).
 */
export function isBlockedAddress(address: string): boolean {
  const plain = unmapIpv4(address);
  const family = familyOf(plain);
  return family === null || blocked.check(plain, family);
}

/** `[::1]` → `::1`: URL host names keep IPv6 literals in brackets. */
function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname.toLowerCase();
}

/** Thrown (and answered 422 `url_not_allowed`) for a destination the policy refuses. */
function notAllowed(message: string): AppError {
  return new AppError('url_not_allowed', message);
}

/** The egress policy of tenant-chosen URLs. One per process; cheap to keep. */
export class EgressGuard {
  private readonly hosts = new Set<string>();
  private readonly ranges = new BlockList();

  /** @param allowList host names, IP addresses and CIDR ranges (see the module comment) */
  constructor(readonly allowList: readonly string[] = []) {
    for (const entry of allowList) {
      const [network, prefix] = entry.split('/');
      const family = familyOf(network!);
      if (family && prefix !== undefined) this.ranges.addSubnet(network!, Number(prefix), family);
      else if (family) this.ranges.addAddress(network!, family);
      else this.hosts.add(entry.toLowerCase());
    }
  }

  /** True when the URL's host is listed by name, or is an IP literal in a listed range. */
  isListedHost(hostname: string): boolean {
    const host = bareHost(hostname);
    return this.hosts.has(host) || this.isListedAddress(host);
  }

  /** True when the policy lets a connection for `hostname` reach `address`. */
  mayConnect(hostname: string, address: string): boolean {
    return this.isListedHost(hostname) || this.isListedAddress(address) || !isBlockedAddress(address);
  }

  /**
   * Checks a URL before it is saved: `https` unless listed, and no refused address among the
   * literal or every address the name resolves to now. A name that does not resolve (yet) passes:
   * each delivery checks the address it reaches.
   * @throws AppError url_not_allowed
   */
  async checkUrl(raw: string): Promise<void> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw notAllowed('the URL cannot be parsed');
    }
    const listed = this.isListedHost(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && listed)) throw notAllowed('the URL must use https');
    if (listed) return;
    const host = bareHost(url.hostname);
    const addresses = familyOf(host) ? [host] : await this.resolve(host);
    const refused = addresses.find((address) => !this.mayConnect(host, address));
    if (refused !== undefined) throw notAllowed(`the URL's host resolves to ${refused}, a loopback, private, link-local or otherwise non-public address`);
  }

  /**
   * An undici dispatcher whose every connection is checked against the policy once connected (the
   * address actually reached, after DNS), and destroyed before any request byte is sent otherwise.
   */
  dispatcher(options: { connectTimeoutMs?: number } = {}): Agent {
    const connector = buildConnector({ timeout: options.connectTimeoutMs ?? 10_000 });
    return new Agent({
      connect: (connectOptions, callback) => {
        connector(connectOptions, (error, socket) => {
          if (error) return callback(error, null);
          const address = (socket as Socket).remoteAddress ?? '';
          if (this.mayConnect(connectOptions.hostname, address)) return callback(null, socket);
          socket.destroy();
          return callback(new Error(`refused to deliver to ${address}: not a public address (EVENT_SUBSCRIPTION_ALLOW_LIST)`), null);
        });
      },
    });
  }

  private isListedAddress(address: string): boolean {
    const plain = unmapIpv4(address);
    const family = familyOf(plain);
    return family !== null && this.ranges.check(plain, family);
  }

  private async resolve(host: string): Promise<string[]> {
    try {
      return (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);
    } catch {
      return [];
    }
  }
}

/**
 * Network namespaces for tests (Linux, root): one bridge in this namespace and one namespace per
 * "host", each joined to the bridge by a veth pair, on a private /24. A process started in a
 * namespace sees only its own loopback and the bridge's subnet: it shares no network with the rest.
 */
import { execFileSync } from 'node:child_process';
import { missingTool } from './needs.js';

export interface Hosts {
  /** This namespace's address on the bridge (where a server for the others listens). */
  readonly gateway: string;
  /** One namespace per host, with its address. */
  readonly hosts: { namespace: string; address: string }[];
  /** The command prefix that runs a program in host `k`'s namespace. */
  prefix(k: number): string[];
  remove(): void;
}

const SUBNET = '10.231.0';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Why namespaces cannot be made here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root (ip netns add)';
  const probe = `sgprobe${process.pid}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return null;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return missingTool('ip', 'iproute2');
    return `ip netns add is not permitted here: ${((error as { stderr?: Buffer }).stderr ?? '').toString().trim() || (error as Error).message}`;
  }
}

/** `count` namespaces on a fresh bridge; remove() deletes them all (call it in a finally). */
export function makeHosts(count: number): Hosts {
  const tag = String(process.pid % 100_000);
  const bridge = `sgbr${tag}`;
  const hosts = Array.from({ length: count }, (_, k) => ({ namespace: `sg-${tag}-${k}`, address: `${SUBNET}.${10 + k}`, veth: `sgv${tag}x${k}` }));
  const remove = (): void => {
    for (const h of hosts) {
      try {
        ip('netns', 'del', h.namespace); // takes its end of the veth pair, and so the pair, with it
      } catch {
        // not created
      }
    }
    try {
      ip('link', 'del', bridge);
    } catch {
      // not created
    }
  };
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${SUBNET}.1/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (const h of hosts) {
      ip('netns', 'add', h.namespace);
      ip('link', 'add', h.veth, 'type', 'veth', 'peer', 'name', `${h.veth}n`);
      ip('link', 'set', h.veth, 'master', bridge);
      ip('link', 'set', h.veth, 'up');
      ip('link', 'set', `${h.veth}n`, 'netns', h.namespace);
      ip('-n', h.namespace, 'addr', 'add', `${h.address}/24`, 'dev', `${h.veth}n`);
      ip('-n', h.namespace, 'link', 'set', `${h.veth}n`, 'up');
      ip('-n', h.namespace, 'link', 'set', 'lo', 'up');
    }
  } catch (error) {
    remove();
    throw error;
  }
  return {
    gateway: `${SUBNET}.1`,
    hosts: hosts.map(({ namespace, address }) => ({ namespace, address })),
    prefix: (k) => ['ip', 'netns', 'exec', hosts[k].namespace],
    remove,
  };
}

/**
 * The system tools `npm test` needs, one entry per tool. `npm test`'s pretest step
 * (scripts/pretest.ts) checks each one and, when some are missing and it runs as root on Debian,
 * installs their packages with apt-get; otherwise it stops naming exactly what to install.
 *
 * To add a tool, add one entry below:
 * - `detect.command`: an executable looked up on PATH (then in /usr/sbin, /usr/local/sbin, /sbin,
 *   where Debian puts some that are not on every user's PATH), or `detect.files`: paths of which
 *   at least one must exist (an executable at a fixed path, a driver's manifest, ...);
 * - `apt.package`: the Debian package that provides it;
 * - `apt.suite` and `apt.source`, only for a package from another suite than the system's own:
 *   the suite to install it from (`apt-get install -t SUITE`) and the one-line apt source that
 *   provides that suite, written to /etc/apt/sources.list.d/<suite>.list when absent. Both may
 *   say `{codename}`, replaced by the system's VERSION_CODENAME from /etc/os-release.
 *
 * For example, Mesa's lavapipe Vulkan driver from backports:
 *   { name: 'lavapipe', why: '...', detect: { files: ['/usr/share/vulkan/icd.d/lvp_icd.x86_64.json'] },
 *     apt: { package: 'mesa-vulkan-drivers', suite: '{codename}-backports',
 *            source: 'deb {mirror} {codename}-backports main' } }
 */
export interface Requirement {
  /** What the tests call it (shown in messages). */
  name: string;
  /** Which tests need it (shown when it is missing). */
  why: string;
  detect: { command: string } | { files: string[] };
  apt: { package: string; suite?: string; source?: string };
}

export const requirements: Requirement[] = [
  {
    name: 'nats-server',
    why: 'the NATS transport and multi-process tests',
    detect: { command: 'nats-server' },
    apt: { package: 'nats-server' },
  },
  {
    name: 'chromium',
    why: 'the report test, which renders report.html headless',
    detect: { files: ['/usr/bin/chromium'] },
    apt: { package: 'chromium' },
  },
  {
    name: 'openssl',
    why: 'the NATS over TLS test, which makes its own certificates',
    detect: { command: 'openssl' },
    apt: { package: 'openssl' },
  },
  {
    name: 'lavapipe',
    why: "the webgpu tests, on Mesa's software Vulkan where the machine has no GPU (bookworm's own Mesa 22.3 is too old for Dawn)",
    // Mesa 24+ names its manifest lvp_icd.json; 22.3's lvp_icd.<arch>.json does not count
    detect: { files: ['/usr/share/vulkan/icd.d/lvp_icd.json'] },
    apt: { package: 'mesa-vulkan-drivers', suite: '{codename}-backports', source: 'deb {mirror} {codename}-backports main' },
  },
  {
    name: 'ip',
    why: 'the network namespace test (ip netns)',
    detect: { command: 'ip' },
    apt: { package: 'iproute2' },
  },
];

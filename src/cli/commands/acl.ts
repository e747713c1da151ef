import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import {
  describeUsers,
  redisUrlFor,
  renderAclFile,
  renderSetUserCommands,
  resolveCredentials,
  setUserCommands,
  type AclUserSpec,
} from '../../bus/acl.js';
import { clusterAclUser } from '../../contracts/acl-cluster.js';
import { consumerUser, parseConsumerSpec } from '../../contracts/acl-consumers.js';
import { canopyUsers, SERVICE_PREFIX } from '../../contracts/acl-users.js';
import { parseRecordUsers, parseUserKinds } from '../../services/recorder/users.js';
import { Connection } from '../../bus/connection.js';
import { ConfigError } from '../../bus/errors.js';
import { loadBaseConfig, writeCredential } from '../../config/env.js';
import { aclPasswordsFromEnv, redisConnectionFromEnv } from '../../config/redis.js';
import { toolsEnv } from '../../config/tools.js';
import { recorderEnv } from '../../config/recorder.js';

interface AclOpts {
  format: string;
  out?: string;
  credentials?: string;
  consumer: string[];
  showPasswords?: boolean;
  urlFor?: string;
  apply?: boolean;
  envDir?: string;
  credentialsDir?: string;
  cluster?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/**
 * The users `canopy acl` generates: every service, root, and the consumers named. The recorder may
 * also read the users' channels `CANOPY_RECORD_USERS` names (what it records).
 */
export function aclUsers(consumers: readonly string[], cluster = false): AclUserSpec[] {
  const record = {
    recordUsers: parseRecordUsers(recorderEnv().users),
    recordUserKinds: parseUserKinds(recorderEnv().userKinds),
  };
  const users = [...canopyUsers(record), ...consumers.map((c) => consumerUser(parseConsumerSpec(c)))];
  return cluster ? users.map(clusterAclUser) : users;
}

export function registerAcl(program: Command): void {
  program
    .command('acl')
    .description(
      'generate Redis ACL users: one per Canopy service and one per external consumer, as an ACL file or ACL SETUSER commands',
    )
    .option('--format <format>', 'file (aclfile for redis.conf), commands (ACL SETUSER lines) or describe', 'file')
    .option('-o, --out <file>', 'write to this file (mode 0600) instead of stdout')
    .option(
      '--credentials <file>',
      'passwords file (user=password, mode 0600); missing passwords are generated into it [default: $CANOPY_DATA_DIR/acl/credentials]',
    )
    .option(
      '--consumer <spec>',
      'an external consumer: name=user1,user2[:sub=raw,features][:pub=predictions] (repeatable; also CANOPY_ACL_CONSUMERS, ";"-separated)',
      collect,
      [],
    )
    .option('--show-passwords', 'commands format: put plaintext passwords (>pw) in the output instead of hashes')
    .option('--url-for <user>', 'print the REDIS_URL (with password) for one ACL user, from the base REDIS_URL')
    .option(
      '--apply',
      'run the ACL SETUSER commands on REDIS_URL (needs an admin user there; on a cluster: on every node)',
    )
    .option(
      '--cluster',
      'rules for a Redis Cluster (also when REDIS_CLUSTER_NODES is set): hash-tagged names, sharded pub/sub, CLUSTER SLOTS; load the file on every node',
    )
    .option(
      '--env-dir <dir>',
      'also set REDIS_URL=redis://canopy-<service>:<password>@… in <dir>/<service>.env (mode 0600; other lines kept), e.g. /etc/canopy',
    )
    .option(
      '--credentials-dir <dir>',
      "also write each service's REDIS_URL as the systemd credential <dir>/<service>/REDIS_URL (0600, dirs 0700), e.g. /etc/canopy/credentials",
    )
    .addHelpText(
      'after',
      `
Passwords come from CANOPY_ACL_PASSWORD_<USER> (e.g. CANOPY_ACL_PASSWORD_CANOPY_WORKER), else from the
credentials file, else they are generated into it. They are never printed unless --show-passwords or
--url-for asks for them. Each service then runs with its own REDIS_URL=redis://canopy-<service>:<password>@host:port.`,
    )
    .action(async (opts: AclOpts) => {
      const base = loadBaseConfig();
      const consumers = [...toolsEnv().aclConsumers, ...opts.consumer];
      const users = aclUsers(
        consumers,
        opts.cluster === true || (redisConnectionFromEnv().clusterNodes ?? []).length > 0,
      );
      if (opts.format === 'describe') {
        emit(describeUsers(users), opts.out);
        return;
      }
      const credFile = opts.credentials ?? path.join(base.dataDir, 'acl', 'credentials');
      const names = users.map((u) => u.name);
      const creds = resolveCredentials(names, credFile, aclPasswordsFromEnv(names));
      if (creds.generated.length > 0) {
        process.stderr.write(`generated ${creds.generated.length} password(s) into ${credFile} (mode 0600)\n`);
      }
      if (opts.envDir) {
        const baseUrl = base.redisUrl ?? 'redis://127.0.0.1:6379';
        for (const u of users) {
          if (!u.name.startsWith(SERVICE_PREFIX) || u.superuser) continue;
          const file = path.join(opts.envDir, `${u.name.slice(SERVICE_PREFIX.length)}.env`);
          setEnvLine(file, 'REDIS_URL', redisUrlFor(baseUrl, u.name, creds.secrets.get(u.name)!.password));
        }
        process.stderr.write(`wrote REDIS_URL into ${opts.envDir}/<service>.env (mode 0600)\n`);
      }
      if (opts.credentialsDir) {
        const baseUrl = base.redisUrl ?? 'redis://127.0.0.1:6379';
        for (const u of users) {
          if (!u.name.startsWith(SERVICE_PREFIX) || u.superuser) continue;
          const dir = path.join(opts.credentialsDir, u.name.slice(SERVICE_PREFIX.length));
          writeCredential(dir, 'REDIS_URL', redisUrlFor(baseUrl, u.name, creds.secrets.get(u.name)!.password));
        }
        process.stderr.write(`wrote REDIS_URL credentials into ${opts.credentialsDir}/<service>/ (mode 0600)\n`);
      }
      if (opts.urlFor) {
        const sec = creds.secrets.get(opts.urlFor);
        if (!sec) throw new ConfigError(`no ACL user ${opts.urlFor} (known: ${users.map((u) => u.name).join(', ')})`);
        emit(`${redisUrlFor(base.redisUrl ?? 'redis://127.0.0.1:6379', opts.urlFor, sec.password)}\n`, opts.out);
        return;
      }
      if (opts.apply) {
        const conn = await Connection.connect({
          ...redisConnectionFromEnv(),
          healthCheckIntervalMs: 0,
          clientName: 'canopy-acl',
        });
        try {
          for (const argv of setUserCommands(users, creds.secrets)) {
            await conn.run(`ACL SETUSER ${argv[2]}`, (c) => c.sendCommand(argv));
          }
        } finally {
          await conn.close();
        }
        process.stdout.write(`applied ${users.length} ACL users\n`);
        return;
      }
      if (opts.format === 'file') emit(renderAclFile(users, creds.secrets), opts.out);
      else if (opts.format === 'commands')
        emit(renderSetUserCommands(users, creds.secrets, { plaintext: !!opts.showPasswords }), opts.out);
      else throw new ConfigError(`--format must be file, commands or describe, got "${opts.format}"`);
    });
}

function emit(text: string, out: string | undefined): void {
  if (!out) {
    process.stdout.write(text);
    return;
  }
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  fs.writeFileSync(out, text, { mode: 0o600 });
  fs.chmodSync(out, 0o600);
  process.stderr.write(`wrote ${out}\n`);
}

/** Sets `NAME=value` in an env file (replacing the line or appending it), mode 0600. */
export function setEnvLine(file: string, name: string, value: string): void {
  let lines: string[] = [];
  try {
    lines = fs.readFileSync(file, 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
  } catch {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  }
  const i = lines.findIndex((l) => l.startsWith(`${name}=`));
  if (i >= 0) lines[i] = `${name}=${value}`;
  else lines.push(`${name}=${value}`);
  fs.writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

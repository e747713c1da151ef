#!/usr/bin/env node
// deploy/postgres/scram-verifier.mjs: reads a password on stdin, prints its
// SCRAM-SHA-256 verifier (RFC 5802/7677, PostgreSQL's format), so that
// setup.sql sets a role's password without the clear text reaching the server.
import { Buffer } from 'node:buffer';
import crypto from 'node:crypto';

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
if (password === '') {
  console.error('scram-verifier: empty password on stdin');
  process.exit(2);
}
const iterations = 4096;
const salt = crypto.randomBytes(16);
const salted = crypto.pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
const hmac = (key, text) => crypto.createHmac('sha256', key).update(text).digest();
const storedKey = crypto.createHash('sha256').update(hmac(salted, 'Client Key')).digest();
const serverKey = hmac(salted, 'Server Key');
process.stdout.write(
  `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}\n`,
);

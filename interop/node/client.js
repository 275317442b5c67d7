#!/usr/bin/env node
// Node.js client of the health service: proves the suite's protos serve JavaScript.
//
//   node interop/node/client.js HOST:PORT [--account ID]
//
// Loads protos/cs/health/v1/health.proto at run time with @grpc/proto-loader (no
// generated code), then creates an account, records signals (then the same signals
// again) and reads the health back, checking every value it reads against what the
// proto promises. Exits 0 and prints a line starting with "OK" when all holds; exits
// 1 with "FAIL: ..." on the first mismatch or failed call. The modules come from the
// repository's node_modules (npm ci, run by scripts/bootstrap).
'use strict';

const path = require('path');

class Mismatch extends Error {}

function expect(condition, message) {
  if (!condition) throw new Mismatch(message);
}

function usage() {
  console.error('usage: node interop/node/client.js HOST:PORT [--account ID]');
  process.exit(2);
}

function parseArgs(argv) {
  const args = { address: '', account: `interop-node-${Math.floor(Date.now() / 1000)}-${process.pid}` };
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--account' && i + 1 < argv.length) args.account = argv[++i];
    else if (argv[i].startsWith('-') || args.address !== '') usage();
    else args.address = argv[i];
  }
  if (args.address === '') usage();
  return args;
}

function loadService() {
  const grpc = require('@grpc/grpc-js');
  const protoLoader = require('@grpc/proto-loader');
  const protoRoot = path.join(__dirname, '..', '..', 'protos');
  // Enums as their names and 64-bit integers as strings, so values compare exactly;
  // defaults so an unset scalar reads as its zero value as in every other language.
  const definition = protoLoader.loadSync('cs/health/v1/health.proto', {
    includeDirs: [protoRoot],
    keepCase: true,
    enums: String,
    longs: String,
    defaults: true,
    oneofs: true,
  });
  const v1 = grpc.loadPackageDefinition(definition).cs.health.v1;
  return { grpc, AccountHealthService: v1.AccountHealthService };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let grpc;
  let AccountHealthService;
  try {
    ({ grpc, AccountHealthService } = loadService());
  } catch (e) {
    throw new Mismatch(`cannot load @grpc/grpc-js, @grpc/proto-loader or the protos (${e.message}); run scripts/bootstrap`);
  }
  const timeoutMs = 10000;
  const client = new AccountHealthService(args.address, grpc.credentials.createInsecure());
  await new Promise((resolve, reject) => {
    client.waitForReady(Date.now() + timeoutMs, (err) =>
      err ? reject(new Mismatch(`no gRPC server at ${args.address} within ${timeoutMs / 1000}s`)) : resolve());
  });
  // Every call with a deadline; a failed call rejects with the gRPC error (code, details).
  const call = (method, request) =>
    new Promise((resolve, reject) => {
      client[method](request, { deadline: Date.now() + timeoutMs }, (err, response) =>
        err ? reject(err) : resolve(response));
    });

  const accountId = args.account;
  const runTag = `${Date.now()}-${process.pid}`;

  // 250 employees: the service derives TIER_MID_MARKET (100-999) when no tier is sent.
  const upsert = {
    request_id: `node-upsert-${runTag}`,
    account: {
      account_id: accountId,
      name: 'Node Interop Inc',
      employee_count: 250,
      industry: 'INDUSTRY_SAAS',
      owner_id: 'csm-node',
    },
  };
  const created = await call('UpsertAccount', upsert);
  expect(created.created === true, 'UpsertAccount: created is false for a new account');
  expect(created.account.account_id === accountId,
    `UpsertAccount: account_id ${created.account.account_id}, want ${accountId}`);
  const tier = created.account.tier;
  expect(tier === 'TIER_MID_MARKET', `UpsertAccount: tier ${tier} for 250 employees, want TIER_MID_MARKET`);
  expect(created.account.lifecycle === 'LIFECYCLE_ONBOARDING',
    `UpsertAccount: lifecycle ${created.account.lifecycle}, want LIFECYCLE_ONBOARDING for a new account`);
  expect(created.account.etag !== '', 'UpsertAccount: empty etag');

  // A retry with the same request_id replays the first answer.
  const replay = await call('UpsertAccount', upsert);
  expect(replay.created === true && replay.account.etag === created.account.etag,
    `UpsertAccount retry: created=${replay.created} etag=${replay.account.etag}, ` +
    `want the first answer (created, etag ${created.account.etag})`);

  const got = (await call('GetAccount', { account_id: accountId })).account;
  expect(got.tier === 'TIER_MID_MARKET' && got.employee_count === 250 && got.industry === 'INDUSTRY_SAAS',
    `GetAccount: tier ${got.tier}, employees ${got.employee_count}, industry ${got.industry}; ` +
    'want TIER_MID_MARKET, 250, INDUSTRY_SAAS');

  // Bad input comes back as INVALID_ARGUMENT naming the field.
  let refused = null;
  try {
    await call('UpsertAccount', {
      request_id: `node-bad-${runTag}`,
      account: { account_id: `${accountId}-bad`, name: 'Bad', employee_count: -5 },
    });
  } catch (e) {
    refused = e;
  }
  expect(refused !== null, 'UpsertAccount with employee_count -5 succeeded, want INVALID_ARGUMENT');
  expect(refused.code === grpc.status.INVALID_ARGUMENT && /employee_count/.test(refused.details),
    `UpsertAccount with employee_count -5: code ${refused.code} "${refused.details}", ` +
    'want INVALID_ARGUMENT naming employee_count');

  // Seven signals an hour or two ago: five logins, a feature used, session minutes.
  const now = Math.floor(Date.now() / 1000);
  const at = (secondsAgo) => ({ seconds: String(now - secondsAgo), nanos: 0 });
  const signals = [];
  for (let i = 0; i < 5; ++i) {
    signals.push({ event_id: `node-login-${i}`, account_id: accountId, kind: 'SIGNAL_KIND_LOGIN',
      occurred_at: at(3600 + 60 * i) });
  }
  signals.push({ event_id: 'node-feature-0', account_id: accountId, kind: 'SIGNAL_KIND_FEATURE_USED',
    feature: 'reports', occurred_at: at(5400) });
  signals.push({ event_id: 'node-session-0', account_id: accountId, kind: 'SIGNAL_KIND_SESSION_MINUTES',
    value: 45, occurred_at: at(7200) });

  const checkAcks = (what, response, outcome) => {
    expect(response.acks.length === signals.length,
      `${what}: ${response.acks.length} acks for ${signals.length} signals`);
    response.acks.forEach((ack, i) => {
      expect(ack.index === i && ack.event_id === signals[i].event_id && ack.outcome === outcome,
        `${what}: ack ${i} is (index ${ack.index}, ${ack.event_id}, ${ack.outcome} "${ack.reason}"), ` +
        `want (${i}, ${signals[i].event_id}, ${outcome})`);
    });
  };

  const recorded = await call('RecordSignals', { request_id: `node-signals-${runTag}`, signals });
  expect(recorded.accepted === signals.length && recorded.duplicates === 0 && recorded.rejected === 0,
    `RecordSignals: accepted/duplicates/rejected ${recorded.accepted}/${recorded.duplicates}/` +
    `${recorded.rejected}, want ${signals.length}/0/0`);
  checkAcks('RecordSignals', recorded, 'RECORD_OUTCOME_ACCEPTED');

  // The same signals in a new call (not a request-id retry): every one a duplicate.
  const again = await call('RecordSignals', { request_id: `node-signals-again-${runTag}`, signals });
  expect(again.accepted === 0 && again.duplicates === signals.length && again.rejected === 0,
    `RecordSignals re-sent: accepted/duplicates/rejected ${again.accepted}/${again.duplicates}/` +
    `${again.rejected}, want 0/${signals.length}/0`);
  checkAcks('RecordSignals re-sent', again, 'RECORD_OUTCOME_DUPLICATE');

  const health = (await call('GetHealth', { account_id: accountId })).health;
  expect(health.account_id === accountId, `GetHealth: account_id ${health.account_id}, want ${accountId}`);
  expect(health.score > 0 && health.score <= 100, `GetHealth: score ${health.score}, want within (0, 100]`);
  expect(health.band !== 'BAND_UNSPECIFIED', `GetHealth: no band with score ${health.score}`);
  expect(health.scorecard_id !== '' && health.scorecard_version > 0,
    `GetHealth: scorecard ${health.scorecard_id} version ${health.scorecard_version}`);
  expect(health.computed_at !== null && Number(health.computed_at.seconds) > 0, 'GetHealth: computed_at not set');
  const usage = health.components.filter((c) => c.component === 'COMPONENT_PRODUCT_USAGE');
  expect(usage.length > 0 && !usage.every((c) => c.missing),
    'GetHealth: the product-usage component is missing although logins were recorded');

  client.close();
  console.log(`OK node: account=${accountId} tier=${tier} accepted=${recorded.accepted} ` +
    `duplicates=${again.duplicates} score=${health.score.toFixed(1)} band=${health.band}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    if (e instanceof Mismatch) console.error(`FAIL: ${e.message}`);
    else if (e && typeof e.code === 'number' && e.details !== undefined) {
      console.error(`FAIL: call failed: ${e.code} ${e.details}`);
    } else console.error(`FAIL: ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  });

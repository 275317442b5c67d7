#!/usr/bin/python3
"""Python client of the health service: proves the suite's protos serve Python.

    /usr/bin/python3 interop/python/client.py HOST:PORT [--stubs DIR] [--account ID]

Creates an account, records signals (then the same signals again) and reads the
health back, checking every value it reads against what the service promises in
protos/cs/health/v1/health.proto. Exits 0 and prints a line starting with "OK"
when all holds; exits 1 with "FAIL: ..." on the first mismatch or failed call.

DIR holds the stubs interop/python/generate wrote (the build writes them to
build/<preset>/interop/python); run with /usr/bin/python3 so Debian's python3-grpcio
and python3-protobuf are the modules found.
"""

import argparse
import os
import sys
import time


class Mismatch(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Mismatch(message)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address", help="the health service's gRPC address, HOST:PORT")
    parser.add_argument(
        "--stubs",
        default=os.environ.get("CS_PYTHON_STUBS", ""),
        help="directory of the generated stubs (default: env CS_PYTHON_STUBS)")
    parser.add_argument(
        "--account",
        default="interop-python-%d-%d" % (int(time.time()), os.getpid()),
        help="account id to create (default: a fresh one, so reruns create anew)")
    return parser.parse_args()


def main():
    args = parse_args()
    if args.stubs:
        sys.path.insert(0, args.stubs)
    try:
        import grpc
        from google.protobuf import timestamp_pb2
        from cs.health.v1 import health_pb2 as pb
        from cs.health.v1 import health_pb2_grpc as pb_grpc
    except ImportError as e:
        print("FAIL: cannot import the gRPC modules or the stubs (%s); run with /usr/bin/python3 "
              "and pass --stubs DIR written by interop/python/generate" % e, file=sys.stderr)
        return 1

    timeout = 10
    channel = grpc.insecure_channel(args.address)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        print("FAIL: no gRPC server at %s within %ds" % (args.address, timeout), file=sys.stderr)
        return 1
    stub = pb_grpc.AccountHealthServiceStub(channel)
    account_id = args.account
    run_tag = "%d-%d" % (int(time.time() * 1000), os.getpid())

    # 250 employees: the service derives TIER_MID_MARKET (100-999) when no tier is sent.
    upsert = pb.UpsertAccountRequest(
        request_id="py-upsert-" + run_tag,
        account=pb.Account(account_id=account_id, name="Python Interop Ltd", employee_count=250,
                           industry=pb.INDUSTRY_SAAS, owner_id="csm-python"))
    created = stub.UpsertAccount(upsert, timeout=timeout)
    expect(created.created, "UpsertAccount: created is false for a new account")
    expect(created.account.account_id == account_id,
           "UpsertAccount: account_id %r, want %r" % (created.account.account_id, account_id))
    tier = pb.Tier.Name(created.account.tier)
    expect(tier == "TIER_MID_MARKET",
           "UpsertAccount: tier %s for 250 employees, want TIER_MID_MARKET" % tier)
    expect(created.account.lifecycle == pb.LIFECYCLE_ONBOARDING,
           "UpsertAccount: lifecycle %s, want LIFECYCLE_ONBOARDING for a new account"
           % pb.Lifecycle.Name(created.account.lifecycle))
    expect(created.account.etag != "", "UpsertAccount: empty etag")

    # A retry with the same request_id replays the first answer.
    replay = stub.UpsertAccount(upsert, timeout=timeout)
    expect(replay.created and replay.account.etag == created.account.etag,
           "UpsertAccount retry: created=%s etag=%r, want the first answer (created, etag %r)"
           % (replay.created, replay.account.etag, created.account.etag))

    got = stub.GetAccount(pb.GetAccountRequest(account_id=account_id), timeout=timeout)
    expect(got.account.tier == pb.TIER_MID_MARKET and got.account.employee_count == 250
           and got.account.industry == pb.INDUSTRY_SAAS,
           "GetAccount: tier %s, employees %d, industry %s; want TIER_MID_MARKET, 250, INDUSTRY_SAAS"
           % (pb.Tier.Name(got.account.tier), got.account.employee_count,
              pb.Industry.Name(got.account.industry)))

    # Bad input comes back as INVALID_ARGUMENT naming the field.
    try:
        stub.UpsertAccount(pb.UpsertAccountRequest(
            request_id="py-bad-" + run_tag,
            account=pb.Account(account_id=account_id + "-bad", name="Bad", employee_count=-5)), timeout=timeout)
        raise Mismatch("UpsertAccount with employee_count -5 succeeded, want INVALID_ARGUMENT")
    except grpc.RpcError as e:
        expect(e.code() == grpc.StatusCode.INVALID_ARGUMENT and "employee_count" in e.details(),
               "UpsertAccount with employee_count -5: %s %r, want INVALID_ARGUMENT naming "
               "employee_count" % (e.code().name, e.details()))

    # Seven signals an hour or two ago: five logins, a feature used, session minutes.
    now = int(time.time())

    def at(seconds_ago):
        return timestamp_pb2.Timestamp(seconds=now - seconds_ago)

    signals = [pb.Signal(event_id="py-login-%d" % i, account_id=account_id,
                         kind=pb.SIGNAL_KIND_LOGIN, occurred_at=at(3600 + 60 * i))
               for i in range(5)]
    signals.append(pb.Signal(event_id="py-feature-0", account_id=account_id,
                             kind=pb.SIGNAL_KIND_FEATURE_USED, feature="reports",
                             occurred_at=at(5400)))
    signals.append(pb.Signal(event_id="py-session-0", account_id=account_id,
                             kind=pb.SIGNAL_KIND_SESSION_MINUTES, value=45, occurred_at=at(7200)))

    def check_acks(what, response, outcome):
        expect(len(response.acks) == len(signals),
               "%s: %d acks for %d signals" % (what, len(response.acks), len(signals)))
        for i, ack in enumerate(response.acks):
            expect(ack.index == i and ack.event_id == signals[i].event_id and ack.outcome == outcome,
                   "%s: ack %d is (index %d, %r, %s %r), want (%d, %r, %s)"
                   % (what, i, ack.index, ack.event_id, pb.RecordOutcome.Name(ack.outcome),
                      ack.reason, i, signals[i].event_id, pb.RecordOutcome.Name(outcome)))

    recorded = stub.RecordSignals(
        pb.RecordSignalsRequest(request_id="py-signals-" + run_tag, signals=signals),
        timeout=timeout)
    expect((recorded.accepted, recorded.duplicates, recorded.rejected) == (len(signals), 0, 0),
           "RecordSignals: accepted/duplicates/rejected %d/%d/%d, want %d/0/0"
           % (recorded.accepted, recorded.duplicates, recorded.rejected, len(signals)))
    check_acks("RecordSignals", recorded, pb.RECORD_OUTCOME_ACCEPTED)

    # The same signals in a new call (not a request-id retry): every one a duplicate.
    again = stub.RecordSignals(
        pb.RecordSignalsRequest(request_id="py-signals-again-" + run_tag, signals=signals),
        timeout=timeout)
    expect((again.accepted, again.duplicates, again.rejected) == (0, len(signals), 0),
           "RecordSignals re-sent: accepted/duplicates/rejected %d/%d/%d, want 0/%d/0"
           % (again.accepted, again.duplicates, again.rejected, len(signals)))
    check_acks("RecordSignals re-sent", again, pb.RECORD_OUTCOME_DUPLICATE)

    health = stub.GetHealth(pb.GetHealthRequest(account_id=account_id), timeout=timeout).health
    band = pb.Band.Name(health.band)
    expect(health.account_id == account_id,
           "GetHealth: account_id %r, want %r" % (health.account_id, account_id))
    expect(0 < health.score <= 100, "GetHealth: score %r, want within (0, 100]" % health.score)
    expect(health.band != pb.BAND_UNSPECIFIED, "GetHealth: no band with score %r" % health.score)
    expect(health.scorecard_id != "" and health.scorecard_version > 0,
           "GetHealth: scorecard %r version %d" % (health.scorecard_id, health.scorecard_version))
    expect(health.HasField("computed_at") and health.computed_at.seconds > 0,
           "GetHealth: computed_at not set")
    usage = [c for c in health.components if c.component == pb.COMPONENT_PRODUCT_USAGE]
    expect(usage and not all(c.missing for c in usage),
           "GetHealth: the product-usage component is missing although logins were recorded")

    print("OK python: account=%s tier=%s accepted=%d duplicates=%d score=%.1f band=%s"
          % (account_id, tier, recorded.accepted, again.duplicates, health.score, band))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Mismatch as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # an RpcError from a call that should have worked, mostly
        code = getattr(e, "code", None)
        details = getattr(e, "details", None)
        if callable(code) and callable(details):
            print("FAIL: call failed: %s %s" % (code().name, details()), file=sys.stderr)
        else:
            print("FAIL: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)

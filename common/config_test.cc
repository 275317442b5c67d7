#include "common/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace cs {
namespace {

using ::cs::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ParseDbUriTest, ReadsEveryPart) {
  absl::StatusOr<DbConfig> c = ParseDbUri("mysql://app:s3cr:et@db.example:3307/cs_health");
  ASSERT_OK(c);
  EXPECT_EQ(c->user, "app");
  EXPECT_EQ(c->password, "s3cr:et");
  EXPECT_EQ(c->host, "db.example");
  EXPECT_EQ(c->port, 3307);
  EXPECT_EQ(c->schema, "cs_health");
}

TEST(ParseDbUriTest, KeepsTheDefaultSchemaAndPort) {
  DbConfig base;
  base.schema = "cs_playbooks";
  absl::StatusOr<DbConfig> c = ParseDbUri("mysql://root@127.0.0.1", base);
  ASSERT_OK(c);
  EXPECT_EQ(c->schema, "cs_playbooks");
  EXPECT_EQ(c->port, 3306);
  EXPECT_EQ(c->password, "");
}

TEST(ParseDbUriTest, RefusesBadInput) {
  EXPECT_THAT(ParseDbUri("postgres://x@h/s"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseDbUri("mysql://root@h:99999/s"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("port")));
  EXPECT_THAT(ParseDbUri("mysql://root@h/bad-schema;drop"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("schema")));
  EXPECT_THAT(ParseDbUri("mysql://root@/s"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("host")));
}

ServerConfig Valid() {
  ServerConfig c;
  c.service_name = "health";
  c.listen = "127.0.0.1:50051";
  c.metrics_listen = "127.0.0.1:9101";
  c.db.schema = "cs_health";
  return c;
}

TEST(ValidateTest, AcceptsDefaults) { EXPECT_OK(Validate(Valid())); }

TEST(ValidateTest, NamesTheFlagAndTheEnvironmentVariable) {
  ServerConfig c = Valid();
  c.listen = "no-port";
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("--listen (CS_LISTEN)")));
  c = Valid();
  c.metrics_listen = "h:70000";
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("--metrics_listen (CS_METRICS_LISTEN)")));
  c = Valid();
  c.db.pool_size = 0;
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("--db_pool_size (CS_DB_POOL_SIZE)")));
  c = Valid();
  c.drain_timeout = absl::Seconds(-1);
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("--drain_timeout")));
  c = Valid();
  c.idempotency_retention = absl::Hours(-1);
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("--idempotency_retention (CS_IDEMPOTENCY_RETENTION)")));
}

TEST(ValidateTest, BoundsTheServersStreamsAndThreads) {
  ServerConfig c = Valid();
  c.max_concurrent_streams = 0;
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("--max_concurrent_streams (CS_MAX_CONCURRENT_STREAMS)")));
  c = Valid();
  c.max_threads = 3;  // the two polling threads and not one more to run a call
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("--max_threads (CS_MAX_THREADS)")));
  c.max_threads = -1;
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("--max_threads (CS_MAX_THREADS)")));
  c.max_threads = 0;
  EXPECT_OK(Validate(c));
  c.max_threads = kMinServerThreads;
  c.max_concurrent_streams = 1;
  EXPECT_OK(Validate(c));
}

}  // namespace
}  // namespace cs

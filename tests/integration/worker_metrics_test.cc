// The simulated worker's /metrics pages, fetched over HTTP as a scraper would and read
// back through the scaler's text-format reader and worker gauges: the figures of each
// rank are those of the worker's load, and they follow the load pattern.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dynamo/worker_gauges.h"
#include "process.h"

namespace mk::testing {
namespace {

using namespace std::chrono_literals;

// Lease ids from the mock's default --lease-base.
constexpr uint64_t kWorker0 = 0x7587867c5a2d0000;

class WorkerMetricsTest : public ::testing::Test {
 protected:
  // Starts the mock without NATS, serving its pages on a free port; returns the port
  // its ready line names.
  int StartMock(std::vector<std::string> args) {
    std::vector<std::string> argv = {BinaryPath("dynamo-mock-worker"), "--nats-server", "",
                                     "--metrics-port", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    mock_ = std::make_unique<Process>(argv, dir_.path() + "/mock.log");
    if (!mock_->WaitForOutput("ready", 15s)) {
      ADD_FAILURE() << "the mock did not start: " << mock_->Output();
      return 0;
    }
    const std::string output = mock_->Output();
    const std::string key = " metrics=http://127.0.0.1:";
    const size_t at = output.find(key);
    if (at == std::string::npos) {
      ADD_FAILURE() << "no metrics address on the ready line: " << output;
      return 0;
    }
    return std::stoi(output.substr(at + key.size()));
  }

  // GET `path`: the body of a 200 answer, else nothing (and the test fails).
  std::optional<std::string> Fetch(int port, const std::string& path, int* status = nullptr) {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(2);
    client.set_read_timeout(5);
    const httplib::Result result = client.Get(path);
    if (!result) {
      ADD_FAILURE() << "GET " << path << ": " << httplib::to_string(result.error());
      return std::nullopt;
    }
    if (status != nullptr) *status = result->status;
    if (result->status != 200) return std::nullopt;
    EXPECT_EQ(result->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    return result->body;
  }

  TempDir dir_;
  std::unique_ptr<Process> mock_;
  // The scaler's reader, given the model the mock's model card names.
  const dynamo::WorkerGaugeReader reader_{dynamo::WorkerGaugeOptions{"mock-model", {}}};
};

struct RankFigures {
  uint64_t kv_used;
  uint64_t waiting;
  uint64_t running;
};

// Every rank of `page` at the same figures, out of 8192 blocks, nothing unreadable.
void ExpectRanks(const dynamo::WorkerPage& page, uint64_t worker, uint32_t ranks,
                 const RankFigures& expected) {
  EXPECT_TRUE(page.unreadable.empty()) << page.status;
  ASSERT_EQ(page.units.size(), ranks);
  for (uint32_t r = 0; r < ranks; ++r) {
    const dynamo::WorkerLoad& load = page.units[r].load;
    EXPECT_EQ(load.key, (dynamo::WorkerKey{worker, r}));
    EXPECT_EQ(load.kv_total_blocks, 8192u);
    EXPECT_EQ(load.kv_active_blocks, expected.kv_used) << "rank " << r;
    EXPECT_EQ(load.num_requests_waiting, expected.waiting) << "rank " << r;
    EXPECT_EQ(page.units[r].running, expected.running) << "rank " << r;
  }
}

TEST_F(WorkerMetricsTest, EachWorkersPageReadsBackToItsFiguresPerRank) {
  // Fleet load 0.8 spread by 0.2: worker 0 at 0.7, worker 1 at 0.9.
  const int port = StartMock(
      {"--workers", "2", "--dp-ranks", "2", "--pattern", "constant:0.8", "--spread", "0.2"});
  ASSERT_GT(port, 0);
  const std::optional<std::string> first = Fetch(port, "/metrics/0");
  const std::optional<std::string> second = Fetch(port, "/metrics/1");
  const std::optional<std::string> bare = Fetch(port, "/metrics");
  ASSERT_TRUE(first && second && bare);
  // 0.7: round(5734.4) blocks, floor(44.8) of 64 slots, nobody waiting (waiting starts
  // above 0.8).
  ExpectRanks(reader_.Read(*first, kWorker0), kWorker0, 2, {5734, 0, 44});
  // 0.9: round(7372.8) blocks, floor(57.6) slots, round(0.1 x 100) waiting.
  ExpectRanks(reader_.Read(*second, kWorker0 + 1), kWorker0 + 1, 2, {7373, 10, 57});
  // /metrics is worker 0's page.
  ExpectRanks(reader_.Read(*bare, kWorker0), kWorker0, 2, {5734, 0, 44});

  int status = 0;
  EXPECT_FALSE(Fetch(port, "/metrics/2", &status));
  EXPECT_EQ(status, 404);
}

TEST_F(WorkerMetricsTest, ThePageFollowsTheLoadPattern) {
  // 0.2 for a second, then 0.9 for a second, and again.
  const int port = StartMock({"--workers", "1", "--pattern", "step:0.2:0.9:2"});
  ASSERT_GT(port, 0);
  bool low = false, high = false;
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (!(low && high) && std::chrono::steady_clock::now() < give_up) {
    const std::optional<std::string> text = Fetch(port, "/metrics");
    ASSERT_TRUE(text);
    const dynamo::WorkerPage page = reader_.Read(*text, kWorker0);
    ASSERT_EQ(page.units.size(), 1u) << page.status;
    const uint64_t kv_used = page.units[0].load.kv_active_blocks;
    // round(1638.4) and round(7372.8) of 8192 blocks; nothing else, ever.
    if (kv_used == 1638) {
      low = true;
      EXPECT_EQ(page.units[0].running, 12u);
    } else if (kv_used == 7373) {
      high = true;
      EXPECT_EQ(page.units[0].running, 57u);
    } else {
      ADD_FAILURE() << "kv_used " << kv_used;
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(low && high) << "low seen: " << low << ", high seen: " << high;
}

}  // namespace
}  // namespace mk::testing

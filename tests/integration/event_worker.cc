#include "event_worker.h"

#include <chrono>
#include <msgpack.hpp>
#include <random>
#include <sstream>

namespace mk::testing {
namespace {

std::string BigEndian64(uint64_t value) {
  std::string bytes(8, '\0');
  for (int i = 7; i >= 0; --i) {
    bytes[static_cast<size_t>(i)] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return bytes;
}

}  // namespace

std::string PackActiveLoad(const ActiveLoadFields& f) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pack(buffer);
  const std::pair<const char*, std::optional<uint64_t>> optional[] = {
      {"kv_used_blocks", f.kv_used_blocks},
      {"active_decode_blocks", f.active_decode_blocks},
      {"active_prefill_tokens", f.active_prefill_tokens},
      {"waiting_requests", f.waiting_requests}};
  uint32_t size = 2;
  for (const auto& [key, value] : optional) size += value ? 1 : 0;
  pack.pack_map(size);
  pack.pack("worker_id");
  pack.pack(f.worker_id);
  pack.pack("dp_rank");
  pack.pack(f.dp_rank);
  for (const auto& [key, value] : optional) {
    if (!value) continue;
    pack.pack(key);
    pack.pack(*value);
  }
  return std::string(buffer.data(), buffer.size());
}

std::string PackEnvelope(uint64_t publisher_id, uint64_t sequence, const std::string& topic,
                         const std::string& payload) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pack(buffer);
  pack.pack_map(5);
  pack.pack("publisher_id");
  pack.pack(publisher_id);
  pack.pack("sequence");
  pack.pack(sequence);
  pack.pack("published_at");
  pack.pack(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count()));
  pack.pack("topic");
  pack.pack(topic);
  pack.pack("payload");
  pack.pack_bin(static_cast<uint32_t>(payload.size()));
  pack.pack_bin_body(payload.data(), static_cast<uint32_t>(payload.size()));
  return std::string(buffer.data(), buffer.size());
}

EventWorker::EventWorker(zmq::context_t& context, uint64_t id, EventWorkerSpec spec)
    : context_(context), spec_(std::move(spec)), socket_(context, zmq::socket_type::pub) {
  Bind(id);
}

void EventWorker::Bind(uint64_t id) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind("tcp://127.0.0.1:*");
  endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
  id_ = id;
  publisher_id_ = std::mt19937_64(id_)() & ((uint64_t{1} << 53) - 1);
}

EventWorker::EventWorker(zmq::context_t& context, EtcdServer& etcd, EventWorkerSpec spec)
    : context_(context),
      etcd_(&etcd),
      spec_(std::move(spec)),
      socket_(context, zmq::socket_type::pub) {
  lease_hex_ = etcd.GrantLease(spec_.lease_ttl_seconds);
  Bind(std::stoull(lease_hex_, nullptr, 16));
  const std::string& ns = spec_.dynamo_namespace;
  const std::string& c = spec_.component;
  const std::string& ep = spec_.endpoint;
  const std::string id = std::to_string(id_);
  std::ostringstream publisher_hex;
  publisher_hex << std::hex << publisher_id_;
  const std::string capacity =
      spec_.total_kv_blocks ? std::to_string(*spec_.total_kv_blocks) : std::string("null");
  const std::pair<std::string, std::string> records[] = {
      {"v1/instances/" + ns + "/" + c + "/" + ep + "/" + lease_hex_,
       R"({"type":"Endpoint","namespace":")" + ns + R"(","component":")" + c + R"(","endpoint":")" +
           ep + R"(","instance_id":)" + id + R"(,"transport":{"tcp":"127.0.0.1:1/x/generate"}})"},
      {"v1/mdc/" + ns + "/" + c + "/" + ep + "/" + lease_hex_,
       R"({"type":"Model","namespace":")" + ns + R"(","component":")" + c + R"(","endpoint":")" +
           ep + R"(","instance_id":)" + id +
           R"(,"card_json":{"display_name":"test","kv_cache_block_size":16,"runtime_config":{"total_kv_blocks":)" +
           capacity + R"(,"max_num_seqs":)" + std::to_string(spec_.max_num_seqs) +
           R"(,"data_parallel_start_rank":0,"data_parallel_size":1}}})"},
      {"v1/event_channels/namespace/" + ns + "/component/" + c + "/endpoint/" + ep +
           "/topic/kv_metrics/" + publisher_hex.str(),
       R"({"type":"EventChannel","scope":{"kind":"endpoint","endpoint":{"namespace":")" + ns +
           R"(","component":")" + c + R"(","name":")" + ep +
           R"("}},"topic":"kv_metrics","instance_id":)" + std::to_string(publisher_id_) +
           R"(,"transport":{"kind":"Zmq","config":{"endpoint":")" + endpoint_ + R"("}}})"},
  };
  for (const auto& [key, value] : records) {
    etcd.Put(key, "'" + value + "'", lease_hex_);
    keys_.push_back(key);
  }
}

void EventWorker::PublishLoad(uint64_t kv_used, std::optional<uint64_t> waiting) {
  ActiveLoadFields fields;
  fields.kv_used_blocks = kv_used;
  fields.waiting_requests = waiting;
  PublishActiveLoad(fields);
}

void EventWorker::PublishActiveLoad(ActiveLoadFields fields) {
  fields.worker_id = id_;
  const std::string envelope =
      PackEnvelope(publisher_id_, sequence_, "kv_metrics", PackActiveLoad(fields));
  std::string header(5, '\0');
  header[0] = 1;
  const auto length = static_cast<uint32_t>(envelope.size());
  for (int i = 0; i < 4; ++i)
    header[static_cast<size_t>(1 + i)] = static_cast<char>(length >> (24 - 8 * i));
  SendFrames({"kv_metrics", BigEndian64(publisher_id_), BigEndian64(sequence_), header + envelope});
  ++sequence_;
}

void EventWorker::SendFrames(const std::vector<std::string>& frames) {
  for (size_t i = 0; i < frames.size(); ++i) {
    socket_.send(zmq::buffer(frames[i]),
                 i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
}

void EventWorker::ReopenPublisher() {
  socket_ = zmq::socket_t(context_, zmq::socket_type::pub);
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind(endpoint_);
}

void EventWorker::Deregister() {
  for (const std::string& key : keys_) etcd_->Delete(key);
}

void EventWorker::RevokeLease() { etcd_->Ctl("lease revoke " + lease_hex_); }

}  // namespace mk::testing

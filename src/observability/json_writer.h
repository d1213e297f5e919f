// A small streaming JSON writer: correct escaping, commas placed for the
// caller, and non-finite numbers written as null (JSON has no NaN). Not
// thread-safe; one per document.
#ifndef METRICS_KEDA_OBSERVABILITY_JSON_WRITER_H_
#define METRICS_KEDA_OBSERVABILITY_JSON_WRITER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mk::observability {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Number(double value);
  JsonWriter& Number(std::optional<double> value);
  JsonWriter& Integer(int64_t value);
  JsonWriter& Unsigned(uint64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  const std::string& text() const { return out_; }

 private:
  void BeforeValue();
  void Open(char bracket);
  void Close(char bracket);

  std::string out_;
  std::vector<bool> has_items_;  // per open container
  bool after_key_ = false;
};

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);

}  // namespace mk::observability

#endif  // METRICS_KEDA_OBSERVABILITY_JSON_WRITER_H_

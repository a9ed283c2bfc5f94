// libFuzzer target for the MQTT decoder: no crash, no UB, and a differential check
// that every packet the incremental decoder yields is what decode_one() makes of the
// same bytes, and survives encode() -> decode_one() unchanged.
//
// Input layout (the seeds in corpus/mqtt_decoder/ follow it):
//   byte 0        control: bits 0-2 = k, the number of chunk size bytes;
//                 bit 3 = a size limit byte follows
//   [1 byte]      size limit L when bit 3 is set: max_packet_size = 8 * L + 2
//   k bytes       chunk sizes, each byte b = a chunk of b + 1 bytes, used in turn
//   the rest      the byte stream fed to the decoder (k = 0: all in one feed)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "imock/protocol/mqtt.hpp"

namespace {

using namespace imock::mqtt;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// encode() must accept any decoded packet, and decoding the result gives it back.
void check_round_trip(const packet& p) {
  std::string bytes;
  check(encode(p, bytes));
  std::error_code ec;
  const auto again = decode_one(bytes, ec);
  check(again.has_value() && !ec);
  check(*again == p);
  // A decoded packet's encoding is canonical: encoding it again changes nothing.
  check(encode(*again) == bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // The whole input as one packet: must not crash; a packet it yields must round-trip.
  {
    std::error_code ec;
    std::string detail;
    if (const auto p = decode_one(input, ec, k_max_possible_packet_size, &detail)) {
      check(!ec && detail.empty());
      check_round_trip(*p);
    } else {
      check(static_cast<bool>(ec) && !detail.empty());
    }
  }

  if (size == 0) return 0;
  std::size_t pos = 0;
  const std::uint8_t control = data[pos++];
  std::size_t max_packet_size = k_max_possible_packet_size;
  if ((control & 0x08) != 0 && pos < size) max_packet_size = 8 * std::size_t{data[pos++]} + 2;
  const std::size_t chunk_count = control & 0x07;
  const std::size_t chunks_at = pos;
  const std::size_t chunks_end = std::min(size, pos + chunk_count);
  pos = chunks_end;
  const std::string_view stream = input.substr(pos);

  decoder dec(max_packet_size);
  std::size_t fed = 0;
  std::size_t consumed = 0;  // stream offset of the next undecoded packet
  std::size_t chunk_index = 0;
  std::error_code ec;
  while (fed < stream.size()) {
    std::size_t n = stream.size() - fed;
    if (chunks_end > chunks_at) {
      n = std::size_t{data[chunks_at + chunk_index % (chunks_end - chunks_at)]} + 1;
      ++chunk_index;
    }
    n = std::min(n, stream.size() - fed);
    dec.feed(stream.substr(fed, n));
    fed += n;
    while (auto p = dec.next(ec)) {
      // The bytes this packet came from: what was fed minus what is still buffered.
      const std::size_t end = fed - dec.buffered();
      check(end > consumed && end - consumed <= max_packet_size);
      std::error_code one_ec;
      const auto one = decode_one(stream.substr(consumed, end - consumed), one_ec, max_packet_size);
      check(one.has_value() && *one == *p);
      consumed = end;
      check_round_trip(*p);
    }
    if (ec) {
      check(dec.error() == ec && !dec.error_detail().empty());
      std::error_code again;
      check(!dec.next(again) && again == ec);
      break;
    }
    check(dec.buffered() == fed - consumed);
  }
  return 0;
}

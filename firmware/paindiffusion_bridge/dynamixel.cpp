// Packet formats (ROBOTIS e-Manual, "Protocol 1.0" and "Protocol 2.0"):
//   P1.0 instruction  FF FF ID LEN INST PARAMS... CHK     LEN = params + 2, CHK = ~(ID + LEN + INST + PARAMS)
//   P1.0 status       FF FF ID LEN ERR  PARAMS... CHK
//   P2.0 instruction  FF FF FD 00 ID LEN_L LEN_H INST PARAMS... CRC_L CRC_H
//   P2.0 status       FF FF FD 00 ID LEN_L LEN_H 55 ERR PARAMS... CRC_L CRC_H
// P2.0: LEN counts the (stuffed) bytes after it, CRC included; inside INST..PARAMS every FF FF FD
// is sent as FF FF FD FD (byte stuffing); the CRC-16 (polynomial 0x8005, initial value 0, not
// reflected) covers the packet as sent, from the header to the last parameter.
#include "dynamixel.h"

namespace {

const unsigned long STATUS_TIMEOUT_US = 10000;  // Return Delay Time (<= 508 us) + a 64-byte packet at 1 Mbps, 10x over
const uint8_t P2_STATUS = 0x55;
const uint8_t INST_PING = 0x01, INST_READ = 0x02, INST_WRITE = 0x03, INST_REBOOT = 0x08;

uint16_t crc16(const uint8_t *bytes, uint8_t length) {
  uint16_t crc = 0;
  for (uint8_t i = 0; i < length; ++i) {
    crc ^= (uint16_t)bytes[i] << 8;
    for (uint8_t bit = 0; bit < 8; ++bit) crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x8005) : (uint16_t)(crc << 1);
  }
  return crc;
}

bool ends_with_stuffing_pattern(const uint8_t *bytes, uint8_t length) {
  return length >= 3 && bytes[length - 3] == 0xFF && bytes[length - 2] == 0xFF && bytes[length - 1] == 0xFD;
}

}  // namespace

DynamixelBus::DynamixelBus(HardwareSerial &port, uint8_t direction_pin)
    : port_(port), direction_pin_(direction_pin), protocol_(2), attempts_(2), status_error_(0) {}

void DynamixelBus::begin(unsigned long baud) {
  pinMode(direction_pin_, OUTPUT);
  digitalWrite(direction_pin_, LOW);
  port_.begin(baud);
}

void DynamixelBus::set_protocol(uint8_t protocol) { protocol_ = protocol == 1 ? 1 : 2; }

bool DynamixelBus::ping(uint8_t id) { return transact(id, INST_PING, NULL, 0, NULL, protocol_ == 1 ? 0 : 3); }

bool DynamixelBus::read(uint8_t id, uint16_t address, uint8_t length, uint8_t *data) {
  uint8_t params[4];
  uint8_t count;
  if (protocol_ == 1) {
    params[0] = (uint8_t)address;
    params[1] = length;
    count = 2;
  } else {
    put_le(params, address, 2);
    put_le(params + 2, length, 2);
    count = 4;
  }
  return transact(id, INST_READ, params, count, data, length);
}

bool DynamixelBus::write(uint8_t id, uint16_t address, const uint8_t *data, uint8_t length) {
  uint8_t params[6];
  if (length > 4) return false;
  uint8_t width = protocol_ == 1 ? 1 : 2;
  put_le(params, address, width);
  memcpy(params + width, data, length);
  return transact(id, INST_WRITE, params, width + length, NULL, 0);
}

bool DynamixelBus::reboot(uint8_t id) { return protocol_ == 2 && transact(id, INST_REBOOT, NULL, 0, NULL, 0); }

bool DynamixelBus::transact(uint8_t id, uint8_t instruction, const uint8_t *params, uint8_t param_count,
                            uint8_t *data, uint8_t data_length) {
  uint8_t scratch[4];
  if (data == NULL) data = scratch;  // a P2.0 ping answers model number and firmware version
  for (uint8_t attempt = 0; attempt < attempts_; ++attempt) {
    uint8_t length = protocol_ == 1 ? build_protocol1(id, instruction, params, param_count)
                                    : build_protocol2(id, instruction, params, param_count);
    send(packet_, length);
    if (protocol_ == 1 ? receive_protocol1(id, data, data_length) : receive_protocol2(id, data, data_length)) return true;
  }
  return false;
}

void DynamixelBus::send(const uint8_t *packet, uint8_t length) {
  while (port_.available()) port_.read();  // a late status packet must not answer this instruction
  digitalWrite(direction_pin_, HIGH);
  port_.write(packet, length);
  port_.flush();  // the last stop bit is out before the shield's buffer turns around
  digitalWrite(direction_pin_, LOW);
}

uint8_t DynamixelBus::build_protocol1(uint8_t id, uint8_t instruction, const uint8_t *params, uint8_t param_count) {
  uint8_t *p = packet_;
  p[0] = 0xFF;
  p[1] = 0xFF;
  p[2] = id;
  p[3] = param_count + 2;
  p[4] = instruction;
  uint8_t sum = id + p[3] + instruction;
  for (uint8_t i = 0; i < param_count; ++i) {
    p[5 + i] = params[i];
    sum += params[i];
  }
  p[5 + param_count] = (uint8_t)~sum;
  return 6 + param_count;
}

uint8_t DynamixelBus::build_protocol2(uint8_t id, uint8_t instruction, const uint8_t *params, uint8_t param_count) {
  uint8_t *p = packet_;
  p[0] = 0xFF;
  p[1] = 0xFF;
  p[2] = 0xFD;
  p[3] = 0x00;
  p[4] = id;
  uint8_t length = 7;
  for (uint8_t i = 0; i <= param_count; ++i) {
    p[length++] = i == 0 ? instruction : params[i - 1];
    if (ends_with_stuffing_pattern(p + 7, length - 7)) p[length++] = 0xFD;
  }
  put_le(p + 5, length - 7 + 2, 2);
  put_le(p + length, crc16(p, length), 2);
  return length + 2;
}

bool DynamixelBus::next_byte(unsigned long start, uint8_t *byte) {
  while (!port_.available()) {
    if (micros() - start > STATUS_TIMEOUT_US) return false;
  }
  *byte = (uint8_t)port_.read();
  return true;
}

bool DynamixelBus::receive_protocol1(uint8_t id, uint8_t *data, uint8_t data_length) {
  unsigned long start = micros();
  uint8_t *p = packet_;
  uint8_t have = 0;
  while (have < 3) {  // FF FF ID, where a third FF still belongs to the header
    if (!next_byte(start, &p[have])) return false;
    if (have < 2) {
      have = p[have] == 0xFF ? have + 1 : 0;
    } else if (p[2] != 0xFF) {
      have = 3;
    }
  }
  if (!next_byte(start, &p[3])) return false;
  uint8_t length = p[3];
  if (length < 2 || length + 4 > MAX_PACKET) return false;
  for (uint8_t i = 0; i < length; ++i) {
    if (!next_byte(start, &p[4 + i])) return false;
  }
  uint8_t sum = 0;
  for (uint8_t i = 2; i < length + 3; ++i) sum += p[i];
  if ((uint8_t)~sum != p[length + 3] || p[2] != id || length - 2 != data_length) return false;
  status_error_ = p[4];
  memcpy(data, p + 5, data_length);
  return true;
}

bool DynamixelBus::receive_protocol2(uint8_t id, uint8_t *data, uint8_t data_length) {
  static const uint8_t HEADER[4] = {0xFF, 0xFF, 0xFD, 0x00};
  unsigned long start = micros();
  uint8_t *p = packet_;
  uint8_t have = 0;
  while (have < 4) {
    if (!next_byte(start, &p[have])) return false;
    if (p[have] == HEADER[have]) {
      ++have;
    } else if (p[have] == 0xFF) {  // the FF that broke the match may start the header (FF FF FF FD 00)
      have = have == 2 ? 2 : 1;
      p[0] = p[1] = 0xFF;
    } else {
      have = 0;
    }
  }
  for (uint8_t i = 4; i < 7; ++i) {
    if (!next_byte(start, &p[i])) return false;
  }
  uint16_t length = le16(p + 5);
  if (length < 4 || length + 7 > MAX_PACKET) return false;
  for (uint8_t i = 0; i < length; ++i) {
    if (!next_byte(start, &p[7 + i])) return false;
  }
  uint8_t end = 7 + length - 2;
  if (crc16(p, end) != le16(p + end) || p[4] != id || p[7] != P2_STATUS) return false;
  uint8_t unstuffed = 0;  // payload (55 ERR PARAMS) unstuffed in place, from p[7]
  for (uint8_t i = 7; i < end; ++i) {
    if (p[i] == 0xFD && ends_with_stuffing_pattern(p + 7, unstuffed)) continue;
    p[7 + unstuffed++] = p[i];
  }
  if (unstuffed - 2 != data_length) return false;
  status_error_ = p[8];
  memcpy(data, p + 9, data_length);
  return true;
}

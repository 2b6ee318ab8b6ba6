// A small Dynamixel bus master (Protocol 1.0 and 2.0, ROBOTIS e-Manual) on a half-duplex line:
// the ROBOTIS DYNAMIXEL Shield joins the UART's TX and RX into the one data wire through a buffer
// whose direction a pin selects (HIGH: the board transmits, LOW: it listens).
#ifndef PAINDIFFUSION_DYNAMIXEL_H
#define PAINDIFFUSION_DYNAMIXEL_H

#include <Arduino.h>

class DynamixelBus {
 public:
  DynamixelBus(HardwareSerial &port, uint8_t direction_pin);

  void begin(unsigned long baud);
  void set_protocol(uint8_t protocol);  // 1 or 2
  // Tries per instruction (1 = no retry); a timeout or a corrupt status packet is retried.
  void set_attempts(uint8_t attempts) { attempts_ = attempts; }

  // Each returns true when the motor answered with an intact status packet of the expected size;
  // status_error() is then that packet's error byte (P1.0: error bits, P2.0: alert bit 7 and
  // error number in bits 0-6).
  bool ping(uint8_t id);
  bool read(uint8_t id, uint16_t address, uint8_t length, uint8_t *data);
  bool write(uint8_t id, uint16_t address, const uint8_t *data, uint8_t length);
  bool reboot(uint8_t id);  // Protocol 2.0 only
  uint8_t status_error() const { return status_error_; }

 private:
  static const uint8_t MAX_PACKET = 64;
  bool transact(uint8_t id, uint8_t instruction, const uint8_t *params, uint8_t param_count,
                uint8_t *data, uint8_t data_length);
  void send(const uint8_t *packet, uint8_t length);
  uint8_t build_protocol1(uint8_t id, uint8_t instruction, const uint8_t *params, uint8_t param_count);
  uint8_t build_protocol2(uint8_t id, uint8_t instruction, const uint8_t *params, uint8_t param_count);
  bool receive_protocol1(uint8_t id, uint8_t *data, uint8_t data_length);
  bool receive_protocol2(uint8_t id, uint8_t *data, uint8_t data_length);
  bool next_byte(unsigned long start, uint8_t *byte);

  HardwareSerial &port_;
  uint8_t direction_pin_;
  uint8_t protocol_;
  uint8_t attempts_;
  uint8_t status_error_;
  uint8_t packet_[MAX_PACKET];
};

// Little-endian helpers for control-table values.
inline uint16_t le16(const uint8_t *bytes) { return bytes[0] | ((uint16_t)bytes[1] << 8); }
inline uint32_t le32(const uint8_t *bytes) { return le16(bytes) | ((uint32_t)le16(bytes + 2) << 16); }
inline void put_le(uint8_t *bytes, uint32_t value, uint8_t size) {
  for (uint8_t i = 0; i < size; ++i) bytes[i] = (uint8_t)(value >> (8 * i));
}

#endif

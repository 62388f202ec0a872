package loadgen

// SlotCount is the number of hash slots of Redis Cluster.
const SlotCount = 16384

// crcTable is CRC16/XMODEM (polynomial 0x1021, initial value 0).
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// Slot returns the cluster slot of a key: CRC16 of the key, or of the
// first non-empty {hash tag} in it, modulo 16384.
func Slot(key []byte) int {
	for i, c := range key {
		if c != '{' {
			continue
		}
		for j := i + 1; j < len(key); j++ {
			if key[j] == '}' {
				if j > i+1 {
					key = key[i+1 : j]
				}
				return crc16(key) % SlotCount
			}
		}
		break
	}
	return crc16(key) % SlotCount
}

func crc16(b []byte) int {
	var c uint16
	for _, x := range b {
		c = c<<8 ^ crcTable[byte(c>>8)^x]
	}
	return int(c)
}

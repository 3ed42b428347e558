package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
)

func main() {
	s := base64.StdEncoding.EncodeToString([]byte("hello"))
	d, _ := base64.StdEncoding.DecodeString(s)
	fmt.Println(s, string(d), hex.EncodeToString([]byte{0xde, 0xad}))
	sum := sha256.Sum256([]byte("abc"))
	fmt.Println(hex.EncodeToString(sum[:4]), crc32.ChecksumIEEE([]byte("abc")))
	buf := make([]byte, 4)
	binary.BigEndian.PutUint32(buf, 0x01020304)
	fmt.Println(buf, binary.LittleEndian.Uint16(buf))
}

// Output:
// aGVsbG8= hello dead
// ba7816bf 891568578
// [1 2 3 4] 513

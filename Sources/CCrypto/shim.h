#ifndef HUBMETER_CCRYPTO_SHIM_H
#define HUBMETER_CCRYPTO_SHIM_H
#include <openssl/sha.h>
#include <openssl/crypto.h>
#endif

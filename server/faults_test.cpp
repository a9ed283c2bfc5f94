#include "server/faults.hpp"

#include <gtest/gtest.h>

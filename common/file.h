#ifndef CS_COMMON_FILE_H_
#define CS_COMMON_FILE_H_

#include <optional>
#include <string>

namespace cs {

// The whole content of the file at `path`; nullopt when it cannot be opened.
std::optional<std::string> ReadWholeFile(const std::string& path);

}  // namespace cs

#endif  // CS_COMMON_FILE_H_

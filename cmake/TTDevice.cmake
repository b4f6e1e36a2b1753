# TTDevice.cmake — building tensortrace's GPU code (HIP sources, *.hip) with hipcc for AMD and with nvcc for NVIDIA.
#
# The GPU sources are compiled by custom commands rather than by CMake's HIP/CUDA languages: the project is a C
# project, Debian's hipcc is a Perl wrapper that CMake's HIP language does not drive, and one explicit command line
# per object is what a reader (and a failing CI log) can check. Objects are self-contained (no relocatable device
# code), so the C compiler links them with the runtime library.
#
#   tt_device_setup_hip()   finds hipcc and libamdhip64, chooses --offload-arch (TT_HIP_ARCH, else gfx942 when
#                           hipcc supports it, else gfx90a), probes the runtime's API; fails with a clear message.
#   tt_device_setup_cuda()  finds nvcc (TT_NVCC, default /usr/local/cuda/bin/nvcc) and the static CUDA runtime;
#                           architectures from TT_CUDA_ARCH.
#   tt_gpu_objects(<flavour> <out-var> SOURCES <f.hip>... [DEFINES d...] [INCLUDES dir...] [DEPENDS f...])
#                           compiles each source into an object for the flavour (hip | cuda); <out-var> gets the
#                           object paths, to list among a target's sources.
#   tt_gpu_executable(<name> <flavour> SOURCES <f.hip|f.c>... [LIBS l...])
#                           an executable from GPU and C sources, linked with tt::trace_<flavour>.
#   tt_gpu_link_runtime(<target> <flavour> <PUBLIC|PRIVATE|INTERFACE>)
#                           links the flavour's runtime library (libamdhip64, or the static CUDA runtime).

set(TT_CUDA_ARCH "80;90" CACHE STRING
    "CUDA architectures for the CUDA flavour (SASS for each, plus PTX of the last for newer GPUs)")
set(TT_NVCC "" CACHE FILEPATH
    "nvcc for the CUDA flavour (default: CMAKE_CUDA_COMPILER, /usr/local/cuda/bin/nvcc, PATH)")


# Compiles and links one probe program with hipcc (linking too: HIP 5.2 declares functions its library does not
# export); sets <out> to TRUE on success and <log> to the compiler's output.
function(tt_hip_probe out log arch code)
  set(dir ${CMAKE_BINARY_DIR}/CMakeFiles/tt_hip_probe)
  file(MAKE_DIRECTORY ${dir})
  file(WRITE ${dir}/probe.hip "${code}\n")
  execute_process(COMMAND ${TT_HIPCC} --offload-arch=${arch} ${dir}/probe.hip -o ${dir}/probe
                  RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e)
  if(rc EQUAL 0)
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
  set(${log} "exit status ${rc}\n${o}${e}" PARENT_SCOPE)
endfunction()

function(tt_device_setup_hip)
  find_program(TT_HIPCC NAMES hipcc PATHS /opt/rocm/bin /usr/bin DOC "hipcc for the HIP flavour")
  if(NOT TT_HIPCC OR NOT EXISTS "${TT_HIPCC}")
    message(FATAL_ERROR "TT_HIP=ON but hipcc was not found (TT_HIPCC='${TT_HIPCC}'). On Debian: "
                        "apt-get install hipcc libamdhip64-dev (or set TT_HIPCC to a ROCm hipcc), "
                        "or configure with -DTT_HIP=OFF.")
  endif()
  find_library(TT_AMDHIP64 NAMES amdhip64 PATHS /opt/rocm/lib DOC "the HIP runtime library")
  if(NOT TT_AMDHIP64)
    message(FATAL_ERROR "TT_HIP=ON but libamdhip64 was not found (Debian: apt-get install libamdhip64-dev).")
  endif()
  set(probe_kernel "#include <hip/hip_runtime.h>
__global__ void k(float *x) { x[threadIdx.x] = 1.0f; }
int main(void) { float *x = 0; hipLaunchKernelGGL(k, 1, 1, 0, 0, x); return 0; }")
  if(TT_HIP_ARCH)
    set(archs ${TT_HIP_ARCH})
  elseif(DEFINED CACHE{TT_HIP_ARCH_DETECTED})
    set(archs ${TT_HIP_ARCH_DETECTED})
  else()
    # gfx942 (MI300X) needs ROCm >= 5.7; Debian's hipcc 5.2 refuses it ("invalid target ID"): fall back to gfx90a
    tt_hip_probe(ok log gfx942 "${probe_kernel}")
    if(ok)
      set(archs gfx942)
    else()
      set(archs gfx90a)
      message(STATUS "tensortrace: ${TT_HIPCC} does not build gfx942 (needs ROCm >= 5.7); HIP flavour for gfx90a. "
                     "Set TT_HIP_ARCH to choose (a list builds several).")
    endif()
    set(TT_HIP_ARCH_DETECTED ${archs} CACHE INTERNAL "--offload-arch chosen for the HIP flavour")
  endif()
  list(GET archs 0 first_arch)
  if(NOT DEFINED CACHE{TT_HIP_PROBED_${first_arch}})
    tt_hip_probe(ok log ${first_arch} "${probe_kernel}")
    if(NOT ok)
      message(FATAL_ERROR "TT_HIP=ON but ${TT_HIPCC} cannot compile a kernel for --offload-arch=${first_arch}:\n${log}")
    endif()
    # hipThreadExchangeStreamCaptureMode: exported since HIP 5.0; probed rather than assumed
    tt_hip_probe(ok log ${first_arch} "#include <hip/hip_runtime.h>
int main(void) {
  hipStreamCaptureMode m = hipStreamCaptureModeRelaxed;
  return (int)hipThreadExchangeStreamCaptureMode(&m);
}")
    set(TT_HIP_HAVE_CAPTURE_MODE_EXCHANGE ${ok} CACHE INTERNAL "hipThreadExchangeStreamCaptureMode exists")
    set(TT_HIP_PROBED_${first_arch} TRUE CACHE INTERNAL "")
  endif()
  set(flags -O2 -g -fPIC -std=c++17 -ffp-contract=off -Wall -Wextra -Wno-unused-parameter)
  if(TT_WERROR)
    list(APPEND flags -Werror)
  endif()
  foreach(a ${archs})
    list(APPEND flags --offload-arch=${a})
  endforeach()
  if(TT_HIP_HAVE_CAPTURE_MODE_EXCHANGE)
    list(APPEND flags -DTT_HIP_HAVE_CAPTURE_MODE_EXCHANGE)
  endif()
  set_property(GLOBAL PROPERTY TT_HIP_FLAGS "${flags}")
  set_property(GLOBAL PROPERTY TT_HIP_ARCHS "${archs}")
  message(STATUS "tensortrace: HIP flavour with ${TT_HIPCC} for ${archs}")
endfunction()

function(tt_device_setup_cuda)
  if(NOT TT_NVCC)
    if(CMAKE_CUDA_COMPILER)
      set(nvcc ${CMAKE_CUDA_COMPILER})
    else()
      # HINTS come before PATH: a toolkit's own nvcc, not a wrapper script elsewhere on PATH
      find_program(nvcc_found NAMES nvcc HINTS $ENV{CUDA_PATH}/bin /usr/local/cuda/bin NO_CACHE)
      set(nvcc ${nvcc_found})
    endif()
    set(TT_NVCC ${nvcc} CACHE FILEPATH "nvcc for the CUDA flavour" FORCE)
  endif()
  if(NOT TT_NVCC OR NOT EXISTS ${TT_NVCC})
    message(FATAL_ERROR "TT_CUDA=ON but nvcc was not found (looked in /usr/local/cuda/bin and PATH): set TT_NVCC, "
                        "or configure with -DTT_CUDA=OFF.")
  endif()
  # the runtime sits beside the toolkit's nvcc; TT_NVCC may be a symlink or a wrapper on PATH, so the toolkit
  # root nvcc reports (its TOP in --dryrun) is searched too
  get_filename_component(cuda_bin ${TT_NVCC} REALPATH)
  get_filename_component(cuda_bin ${cuda_bin} DIRECTORY)
  set(cuda_roots ${cuda_bin}/..)
  execute_process(COMMAND ${TT_NVCC} --dryrun -c -x cu /dev/null -o /dev/null
                  OUTPUT_VARIABLE o ERROR_VARIABLE e RESULT_VARIABLE rc)
  if("${o}${e}" MATCHES "#\\$ TOP=([^\n]*)")
    list(APPEND cuda_roots ${CMAKE_MATCH_1})
  endif()
  set(cuda_libdirs)
  foreach(r ${cuda_roots} $ENV{CUDA_PATH} /usr/local/cuda)
    list(APPEND cuda_libdirs ${r}/lib64 ${r}/lib ${r}/targets/x86_64-linux/lib)
  endforeach()
  find_library(TT_CUDART_STATIC NAMES cudart_static PATHS ${cuda_libdirs} NO_DEFAULT_PATH)
  if(NOT TT_CUDART_STATIC)
    message(FATAL_ERROR "TT_CUDA=ON but libcudart_static.a was not found for ${TT_NVCC} (looked in "
                        "${cuda_libdirs}): set TT_CUDART_STATIC, or configure with -DTT_CUDA=OFF.")
  endif()
  set(flags -x cu -DTT_GPU_CUDA -O2 -g -std=c++17 -fmad=false -Xcompiler=-fPIC
            -Xcompiler=-Wall,-Wextra,-Wno-unused-parameter)
  if(TT_WERROR)
    list(APPEND flags -Werror=all-warnings -Xcompiler=-Werror)
  endif()
  list(LENGTH TT_CUDA_ARCH narch)
  set(i 0)
  foreach(a ${TT_CUDA_ARCH})
    math(EXPR i "${i} + 1")
    if(i EQUAL narch)
      list(APPEND flags "--generate-code=arch=compute_${a},code=[sm_${a},compute_${a}]")
    else()
      list(APPEND flags "--generate-code=arch=compute_${a},code=sm_${a}")
    endif()
  endforeach()
  set_property(GLOBAL PROPERTY TT_CUDA_FLAGS "${flags}")
  message(STATUS "tensortrace: CUDA flavour with ${TT_NVCC} for sm ${TT_CUDA_ARCH}")
endfunction()

function(tt_gpu_objects flavour out)
  cmake_parse_arguments(G "" "" "SOURCES;DEFINES;INCLUDES;DEPENDS" ${ARGN})
  string(TOUPPER ${flavour} FLAV)
  get_property(flags GLOBAL PROPERTY TT_${FLAV}_FLAGS)
  if(flavour STREQUAL "hip")
    set(compiler ${TT_HIPCC})
  elseif(flavour STREQUAL "cuda")
    set(compiler ${TT_NVCC})
  else()
    message(FATAL_ERROR "tt_gpu_objects: flavour is hip or cuda, not '${flavour}'")
  endif()
  set(incs -I${PROJECT_SOURCE_DIR}/libtrace/device -I${PROJECT_SOURCE_DIR}/libtrace/include)
  foreach(d ${G_INCLUDES})
    list(APPEND incs -I${d})
  endforeach()
  set(defs -DTT_STATIC_DEFINE)
  foreach(d ${G_DEFINES})
    list(APPEND defs -D${d})
  endforeach()
  file(GLOB headers ${PROJECT_SOURCE_DIR}/libtrace/device/*.h ${PROJECT_SOURCE_DIR}/libtrace/include/tt/*.h)
  set(objs)
  foreach(src ${G_SOURCES})
    get_filename_component(abs ${src} ABSOLUTE)
    get_filename_component(name ${src} NAME_WE)
    set(obj ${CMAKE_CURRENT_BINARY_DIR}/${flavour}/${name}.o)
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/${flavour}
      COMMAND ${compiler} ${flags} ${defs} ${incs} -c ${abs} -o ${obj}
      DEPENDS ${abs} ${headers} ${G_DEPENDS}
      COMMENT "Building ${FLAV} object ${flavour}/${name}.o (${compiler})"
      COMMAND_EXPAND_LISTS
      VERBATIM)
    list(APPEND objs ${obj})
  endforeach()
  set(${out} ${objs} PARENT_SCOPE)
endfunction()

function(tt_gpu_link_runtime target flavour scope)
  if(flavour STREQUAL "hip")
    target_link_libraries(${target} ${scope} ${TT_AMDHIP64} stdc++ Threads::Threads ${CMAKE_DL_LIBS} m)
  else()
    target_link_libraries(${target} ${scope} ${TT_CUDART_STATIC} stdc++ Threads::Threads ${CMAKE_DL_LIBS} rt m)
  endif()
endfunction()

function(tt_gpu_executable name flavour)
  cmake_parse_arguments(G "" "" "SOURCES;LIBS;INCLUDES" ${ARGN})
  set(gpu_srcs)
  set(c_srcs)
  foreach(s ${G_SOURCES})
    if(s MATCHES "\\.hip$")
      list(APPEND gpu_srcs ${s})
    else()
      list(APPEND c_srcs ${s})
    endif()
  endforeach()
  tt_gpu_objects(${flavour} objs SOURCES ${gpu_srcs} INCLUDES ${G_INCLUDES})
  add_executable(${name} ${c_srcs} ${objs})
  tt_target_options(${name})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/libtrace/device ${G_INCLUDES})
  target_link_libraries(${name} PRIVATE tt_trace_${flavour} ${G_LIBS})
  set_target_properties(${name} PROPERTIES LINKER_LANGUAGE C)
endfunction()

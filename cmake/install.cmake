# Install headers, libraries, programs, pkg-config file and CMake package config.
include(CMakePackageConfigHelpers)

install(DIRECTORY include/imagedata DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/include/imagedata/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/imagedata)

install(TARGETS imagedata imagedata_static EXPORT imagedataTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS image_info image_data dicom_dump dicom_echo image_list image_receive RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(EXPORT imagedataTargets NAMESPACE imagedata::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/imagedata)
configure_package_config_file(cmake/imagedata-config.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/imagedata-config.cmake
    INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/imagedata)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/imagedata-config-version.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/imagedata-config.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/imagedata-config-version.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/imagedata)

set(IMD_PC_REQUIRES_PRIVATE "zlib")
if(IMD_WITH_ZIP)
  string(APPEND IMD_PC_REQUIRES_PRIVATE " libzip")
endif()
if(IMD_WITH_MATIO)
  string(APPEND IMD_PC_REQUIRES_PRIVATE " matio")
endif()
if(IMD_WITH_TURBOJPEG)
  string(APPEND IMD_PC_REQUIRES_PRIVATE " libjpeg")
endif()
if(IMD_WITH_PNG)
  string(APPEND IMD_PC_REQUIRES_PRIVATE " libpng16")
endif()
if(IMD_WITH_TIFF)
  string(APPEND IMD_PC_REQUIRES_PRIVATE " libtiff-4")
endif()
if(IMD_WITH_CHARLS)
  string(APPEND IMD_PC_REQUIRES_PRIVATE " charls")
endif()
if(IMD_WITH_OPENJPEG)
  string(APPEND IMD_PC_REQUIRES_PRIVATE " libopenjp2")
endif()
if(IMD_WITH_TLS)
  string(APPEND IMD_PC_REQUIRES_PRIVATE " libssl libcrypto")
endif()
# GDCM's IJG builds have no .pc file; CharLS is C++ inside (its .pc omits libstdc++).
set(IMD_PC_LIBS_PRIVATE "")
if(IMD_WITH_IJG)
  string(APPEND IMD_PC_LIBS_PRIVATE " -lgdcmjpeg8 -lgdcmjpeg12 -lgdcmjpeg16")
endif()
if(IMD_WITH_CHARLS)
  string(APPEND IMD_PC_LIBS_PRIVATE " -lstdc++")
endif()
# The .pc file finds its prefix from where it lies, so that an install moved
# elsewhere (cmake --install --prefix, DESTDIR staging) still works.
string(REGEX REPLACE "[^/]+" ".." IMD_PC_RELATIVE_PREFIX "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
configure_file(cmake/imagedata.pc.in ${CMAKE_CURRENT_BINARY_DIR}/imagedata.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/imagedata.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

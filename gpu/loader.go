//go:build cgo

package gpu

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <vulkan/vulkan.h>

static void *strata_dlopen(const char *name) { return dlopen(name, RTLD_NOW | RTLD_LOCAL); }
static void *strata_dlsym(void *lib, const char *name) { return dlsym(lib, name); }

// strata_properties2 reads what vkGetPhysicalDeviceProperties misses: the
// subgroup size (Vulkan 1.1) and the driver's name (Vulkan 1.2).
static void strata_properties2(void *gipa, VkInstance inst, VkPhysicalDevice pd, int v12,
                               uint32_t *subgroup, uint32_t *sgOps, uint32_t *sgStages,
                               char *driver, size_t driverLen) {
	PFN_vkGetInstanceProcAddr get = (PFN_vkGetInstanceProcAddr)gipa;
	PFN_vkGetPhysicalDeviceProperties2 f =
		(PFN_vkGetPhysicalDeviceProperties2)get(inst, "vkGetPhysicalDeviceProperties2");
	*subgroup = 0;
	*sgOps = 0;
	*sgStages = 0;
	driver[0] = 0;
	if (!f) return;
	VkPhysicalDeviceDriverProperties drv;
	memset(&drv, 0, sizeof drv);
	drv.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
	VkPhysicalDeviceSubgroupProperties sg;
	memset(&sg, 0, sizeof sg);
	sg.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES;
	sg.pNext = v12 ? &drv : NULL;
	VkPhysicalDeviceProperties2 p;
	memset(&p, 0, sizeof p);
	p.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
	p.pNext = &sg;
	f(pd, &p);
	*subgroup = sg.subgroupSize;
	*sgOps = sg.supportedOperations;
	*sgStages = sg.supportedStages;
	if (v12) snprintf(driver, driverLen, "%s %s", drv.driverName, drv.driverInfo);
}
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// The loader is opened once per process: libvulkan.so.1 (the runtime
// name), then libvulkan.so (the development name vulkan-go asks for).
var loader struct {
	once sync.Once
	gipa unsafe.Pointer // vkGetInstanceProcAddr
	err  error
}

func loadVulkan() error {
	loader.once.Do(func() {
		var lib unsafe.Pointer
		for _, name := range []string{"libvulkan.so.1", "libvulkan.so"} {
			cname := C.CString(name)
			lib = C.strata_dlopen(cname)
			C.free(unsafe.Pointer(cname))
			if lib != nil {
				break
			}
		}
		if lib == nil {
			loader.err = fmt.Errorf("%w: no Vulkan loader (libvulkan.so.1) on this system", ErrUnavailable)
			return
		}
		sym := C.CString("vkGetInstanceProcAddr")
		defer C.free(unsafe.Pointer(sym))
		loader.gipa = C.strata_dlsym(lib, sym)
		if loader.gipa == nil {
			loader.err = fmt.Errorf("%w: the Vulkan loader has no vkGetInstanceProcAddr", ErrUnavailable)
			return
		}
		vk.SetGetInstanceProcAddr(loader.gipa)
		if err := vk.Init(); err != nil {
			loader.err = fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	})
	return loader.err
}

// subgroupProps is what a device says of its subgroups (Vulkan 1.1).
type subgroupProps struct {
	size       uint32
	operations uint32 // VkSubgroupFeatureFlags
	stages     uint32 // VkShaderStageFlags where they work
}

// properties2 returns a device's subgroup properties and driver description.
func properties2(inst vk.Instance, pd vk.PhysicalDevice, apiVersion uint32) (subgroupProps, string) {
	var subgroup, ops, stages C.uint32_t
	var driver [512]C.char
	v12 := C.int(0)
	if apiVersion >= vk.MakeVersion(1, 2, 0) {
		v12 = 1
	}
	C.strata_properties2(loader.gipa, C.VkInstance(unsafe.Pointer(inst)), C.VkPhysicalDevice(unsafe.Pointer(pd)),
		v12, &subgroup, &ops, &stages, &driver[0], C.size_t(len(driver)))
	return subgroupProps{uint32(subgroup), uint32(ops), uint32(stages)}, C.GoString(&driver[0])
}
